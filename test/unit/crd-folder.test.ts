/**
 * k8s/crds takes both `kubectl apply -f k8s/crds/` and `kubectl apply -k k8s/crds`: every file that
 * `-f` reads from a folder (.yaml, .yml, .json) is a CustomResourceDefinition, and the
 * Kustomization, named so that `-f` skips it, lists exactly those files.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const crdDir = path.join(process.cwd(), 'k8s/crds');
const files = readdirSync(crdDir).sort();
const manifests = files.filter((f) => /\.(ya?ml|json)$/.test(f));

describe('k8s/crds', () => {
  it.each(manifests)('%s is a CustomResourceDefinition, the one document of its file', (f) => {
    const text = readFileSync(path.join(crdDir, f), 'utf8');
    expect(text.match(/^kind: .*$/gm)).toEqual(['kind: CustomResourceDefinition']);
    expect(text).not.toMatch(/^---/m);
  });

  it('has a Kustomization that kubectl -f skips, listing every CRD file', () => {
    const kustomizations = files.filter((f) => /^(kustomization\.ya?ml|Kustomization)$/.test(f));
    expect(kustomizations).toEqual(['Kustomization']);
    const text = readFileSync(path.join(crdDir, 'Kustomization'), 'utf8');
    const listed = [...text.matchAll(/^\s*-\s*(\S+)\s*$/gm)].map((m) => m[1]).sort();
    expect(listed).toEqual(manifests);
    expect(manifests).toHaveLength(9);
  });
});
