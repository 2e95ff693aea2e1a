/**
 * Certificates for the local control plane, made with openssl: a CA, a serving certificate for
 * 127.0.0.1/localhost, an admin client certificate (O=system:masters) and the service-account
 * signing key pair. Made once per stack folder and reused.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runLogged } from './exec.js';

/** Paths of the files {@link ensurePki} makes. */
export interface Pki {
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  adminCert: string;
  adminKey: string;
  serviceAccountKey: string;
  serviceAccountPub: string;
}

/** Makes (or reuses) the stack's certificates in `dir`; openssl's output goes to `logFile`. */
export async function ensurePki(openssl: string, dir: string, logFile: string): Promise<Pki> {
  mkdirSync(dir, { recursive: true });
  const p = (f: string) => join(dir, f);
  const pki: Pki = {
    caCert: p('ca.crt'),
    caKey: p('ca.key'),
    serverCert: p('server.crt'),
    serverKey: p('server.key'),
    adminCert: p('admin.crt'),
    adminKey: p('admin.key'),
    serviceAccountKey: p('sa.key'),
    serviceAccountPub: p('sa.pub'),
  };
  if (Object.values(pki).every((f) => existsSync(f))) return pki;
  const run = (args: string[]) =>
    runLogged(openssl, args, {
      cwd: dir,
      logFile,
      what: 'making the stack certificates',
      progressEveryMs: 0,
    });
  await run([
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '3650',
    '-subj',
    '/CN=resiliency-orchestrator-local-ca',
    '-keyout',
    pki.caKey,
    '-out',
    pki.caCert,
  ]);
  writeFileSync(p('server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  await run([
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-subj',
    '/CN=localhost',
    '-keyout',
    pki.serverKey,
    '-out',
    p('server.csr'),
  ]);
  await run([
    'x509',
    '-req',
    '-in',
    p('server.csr'),
    '-CA',
    pki.caCert,
    '-CAkey',
    pki.caKey,
    '-CAcreateserial',
    '-days',
    '3650',
    '-extfile',
    p('server.ext'),
    '-out',
    pki.serverCert,
  ]);
  writeFileSync(p('admin.ext'), 'extendedKeyUsage=clientAuth\n');
  await run([
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-subj',
    '/O=system:masters/CN=admin',
    '-keyout',
    pki.adminKey,
    '-out',
    p('admin.csr'),
  ]);
  await run([
    'x509',
    '-req',
    '-in',
    p('admin.csr'),
    '-CA',
    pki.caCert,
    '-CAkey',
    pki.caKey,
    '-CAcreateserial',
    '-days',
    '3650',
    '-extfile',
    p('admin.ext'),
    '-out',
    pki.adminCert,
  ]);
  await run(['genrsa', '-out', pki.serviceAccountKey, '2048']);
  await run(['rsa', '-in', pki.serviceAccountKey, '-pubout', '-out', pki.serviceAccountPub]);
  return pki;
}
