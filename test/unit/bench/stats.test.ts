// The benchmark statistics helpers on sample counts a fast write load produces.
import { describe, expect, it } from 'vitest';
import { percentile, summarize } from '../../../bench/stats.js';

describe('summarize', () => {
  it('handles 300k samples (a spread into Math.max overflowed the call stack)', () => {
    const samples = Array.from({ length: 300_000 }, (_, i) => (i % 1000) / 100);
    const s = summarize(samples);
    expect(s.count).toBe(300_000);
    expect(s.maxMs).toBe(9.99);
    expect(s.p50Ms).toBe(percentile(samples, 0.5));
  });

  it('gives NaN figures for no samples', () => {
    expect(Number.isNaN(summarize([]).maxMs)).toBe(true);
  });
});
