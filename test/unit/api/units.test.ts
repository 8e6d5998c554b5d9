// Pure helpers behind the routes: size, duration and timestamp parsing.
import { describe, expect, it } from 'vitest';
import { parseTimeoutSec } from '../../../src/api/local-actions.js';
import { parseByteSize, parseZonedTimestamp } from '../../../src/api/units.js';

describe('parseByteSize', () => {
  it.each([
    ['0', 0], ['1048576', 1048576], ['16MB', 16 * 1024 ** 2], ['16 MB', 16 * 1024 ** 2], ['512kB', 512 * 1024],
    ['512KB', 512 * 1024], ['1.5GB', 1.5 * 1024 ** 3], ['2TB', 2 * 1024 ** 4], ['100B', 100],
  ])('%s -> %d', (text, bytes) => {
    expect(parseByteSize('lag', text)).toEqual({ ok: true, value: bytes });
  });

  it.each(['16XB', '-1', 'MB', '', '1e3', '0x10', '16MB16'])('%s is an error naming the parameter', (text) => {
    const r = parseByteSize('query parameter lag', text);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(/^query parameter lag must be/);
  });
});

describe('parseZonedTimestamp', () => {
  it.each([
    ['2026-01-01T10:00:00Z', Date.UTC(2026, 0, 1, 10)],
    ['2026-01-01T10:00:00+02:00', Date.UTC(2026, 0, 1, 8)],
    ['2026-01-01 10:00:00.250-0130', Date.UTC(2026, 0, 1, 11, 30, 0, 250)],
    ['2026-01-01T10:00+05', Date.UTC(2026, 0, 1, 5)],
    ['2026-01-01T10:00:00.123456+00:00', Date.UTC(2026, 0, 1, 10, 0, 0, 123)],
  ])('%s', (text, ms) => {
    expect(parseZonedTimestamp('scheduled switchover', text)).toEqual({ ok: true, value: ms });
  });

  it('requires a time zone and a real calendar date', () => {
    expect(parseZonedTimestamp('scheduled restart', '2026-01-01T10:00:00')).toEqual({
      ok: false, error: 'Timezone information is mandatory for the scheduled restart' });
    for (const bad of ['2026-02-29T10:00:00Z', '2026-13-01T00:00:00Z', '2026-01-01T24:00:00Z', 'now', '1767261600']) {
      expect(parseZonedTimestamp('x', bad).ok, bad).toBe(false);
    }
  });
});

describe('parseTimeoutSec', () => {
  it('takes numbers and unit strings, refuses the rest', () => {
    expect(parseTimeoutSec(30)).toEqual({ ok: true, value: 30 });
    expect(parseTimeoutSec('2min')).toEqual({ ok: true, value: 120 });
    expect(parseTimeoutSec('45')).toEqual({ ok: true, value: 45 });
    expect(parseTimeoutSec(0).ok).toBe(false);
    expect(parseTimeoutSec('10 parsecs').ok).toBe(false);
  });
});
