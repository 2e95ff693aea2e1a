import { SEARCH_ATTRIBUTES } from '../../src/api/search-attributes.js';
import {
  compareSearchAttributes,
  createCommand,
  missingMessage,
} from '../../src/temporal/search-attributes.js';

describe('search attributes at start-up', () => {
  it('finds nothing missing when the namespace has every attribute as Keyword (IndexedValueType 2)', () => {
    const existing = Object.fromEntries(SEARCH_ATTRIBUTES.map((a) => [a.name, 2]));
    expect(compareSearchAttributes(SEARCH_ATTRIBUTES, { ...existing, Other: 1 })).toEqual({
      missing: [],
      wrongType: [],
    });
  });

  it('names the missing ones and those of another type', () => {
    const r = compareSearchAttributes(SEARCH_ATTRIBUTES, { AstronetesKind: 2, AstronetesName: 1 });
    expect(r.missing.map((a) => a.name)).toEqual(['AstronetesNamespace', 'AstronetesUid']);
    expect(r.wrongType).toEqual([{ name: 'AstronetesName', want: 'Keyword', have: 'Text' }]);
  });

  it('gives the exact temporal CLI command, on one line', () => {
    const missing = [{ name: 'AstronetesKind', type: 'Keyword' }];
    expect(createCommand('dr', missing)).toBe(
      'temporal operator search-attribute create --namespace dr --name AstronetesKind --type Keyword',
    );
    const m = missingMessage('dr', SEARCH_ATTRIBUTES);
    expect(m).toContain(
      "Temporal namespace 'dr' lacks the search attributes AstronetesKind (Keyword), AstronetesNamespace (Keyword)",
    );
    expect(m).toContain(
      '`temporal operator search-attribute create --namespace dr --name AstronetesKind --type Keyword --name AstronetesNamespace --type Keyword --name AstronetesName --type Keyword --name AstronetesUid --type Keyword`',
    );
    expect(m).not.toContain('\n');
  });
});
