import { describe, expect, it } from 'vitest';
import { shlexSplit } from '../../../src/exec/shlex.js';

describe('shlexSplit (Python shlex.split, POSIX mode)', () => {
  it('splits on whitespace and keeps quoted words whole', () => {
    expect(shlexSplit('/usr/bin/python3 features/callback2.py postgres-0 5361')).toEqual(['/usr/bin/python3', 'features/callback2.py', 'postgres-0', '5361']);
    expect(shlexSplit(`  a  'b c'  "d \\"e\\" \\x" f\\ g ''`)).toEqual(['a', 'b c', 'd "e" \\x', 'f g', '']);
    expect(shlexSplit(`x'y'"z"`)).toEqual(['xyz']);
    expect(shlexSplit('')).toEqual([]);
  });

  it('refuses an unterminated quote or escape', () => {
    expect(() => shlexSplit(`a 'b`)).toThrow(/no closing quotation/);
    expect(() => shlexSplit('a "b')).toThrow(/no closing quotation/);
    expect(() => shlexSplit('a \\')).toThrow(/no escaped character/);
  });
});
