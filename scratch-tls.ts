import { readFileSync, writeFileSync } from 'node:fs';
import { ensurePki } from './tools/stack/pki.js';
import { startTlsTemporalServer } from './test/integration/temporal-tls-server.js';
const pki = await ensurePki('/usr/bin/openssl', '/tmp/tls-scratch/pki', '/tmp/tls-scratch/pki.log');
const s = await startTlsTemporalServer({
  dir: '/tmp/tls-scratch/c', pki, mode: 'mtls', namespaces: ['default'],
  admin: { tls: { serverRootCACertificate: readFileSync(pki.caCert), serverNameOverride: 'localhost', clientCertPair: { crt: readFileSync(pki.adminCert), key: readFileSync(pki.adminKey) } } },
});
writeFileSync('/tmp/tls-scratch/address', s.address);
console.log('ready', s.address);
await new Promise((r) => setTimeout(r, Number(process.argv[2] ?? 150) * 1000));
await s.stop();
console.log('stopped');
