import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DYNAMIC_PASSTHROUGH_KEYS, DYNAMIC_UNSUPPORTED_KEYS, IGNORED_KEYS, UNSUPPORTED_KEYS } from '../../../src/config/keys.js';
import { DYNAMIC_SCHEMA, LOCAL_SCHEMA } from '../../../src/config/schema.js';
import { FIXTURES } from './helpers.js';

const doc = readFileSync(resolve(FIXTURES, '../../../docs/configuration.md'), 'utf8');

describe('docs/configuration.md', () => {
  // The full table (status and since) is checked in registry.test.ts.
  it.each([
    ['accepted-and-ignored', Object.keys(IGNORED_KEYS)],
    ['unsupported', Object.keys(UNSUPPORTED_KEYS)],
    ['dynamic passthrough', Object.keys(DYNAMIC_PASSTHROUGH_KEYS)],
    ['dynamic unsupported', Object.keys(DYNAMIC_UNSUPPORTED_KEYS)],
  ])('lists every %s key', (_kind, keys) => {
    const missing = keys.filter((k) => !doc.includes(`\`${k}\``));
    expect(missing).toEqual([]);
  });

  it('names every supported key of each section', () => {
    const leafNames = (keys: Record<string, unknown>): string[] => Object.keys(keys);
    const missing = [
      ...leafNames(LOCAL_SCHEMA.keys),
      ...leafNames(DYNAMIC_SCHEMA.keys).filter((k) => !k.startsWith('master_')),
    ].filter((k) => !doc.includes(`\`${k}`) && !doc.includes(`.${k}\``));
    expect(missing).toEqual([]);
  });

  it('states the timing rule and the ttl minimum', () => {
    expect(doc).toContain('loop_wait + 2 * retry_timeout <= ttl');
    expect(doc).toContain('at least **4**');
  });
});
