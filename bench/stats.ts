// Small statistics helpers shared by the benchmarks and the load tests: nearest-rank percentiles
// over raw samples, and quantiles over Prometheus histograms (which is all the agent exposes
// about its tick durations).

/** Nearest-rank percentile (p in 0..1) of unsorted samples; NaN for no samples. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  if (!(p >= 0 && p <= 1)) throw new Error(`percentile must be between 0 and 1, got ${p}`);
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil(p * sorted.length));
  return sorted[rank - 1] as number;
}

export interface LatencySummary {
  readonly count: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly meanMs: number;
}

/** p50/p90/p99/max/mean of samples in ms, rounded to microseconds. */
export function summarize(samplesMs: readonly number[]): LatencySummary {
  const r = (v: number): number => Math.round(v * 1000) / 1000;
  const mean = samplesMs.reduce((a, b) => a + b, 0) / Math.max(1, samplesMs.length);
  return {
    count: samplesMs.length,
    p50Ms: r(percentile(samplesMs, 0.5)),
    p90Ms: r(percentile(samplesMs, 0.9)),
    p99Ms: r(percentile(samplesMs, 0.99)),
    // A reduce, not Math.max(...samples): spreading 10^5 samples overflows the call stack.
    maxMs: r(samplesMs.length ? samplesMs.reduce((a, b) => Math.max(a, b), Number.NEGATIVE_INFINITY) : Number.NaN),
    meanMs: r(mean),
  };
}

/** A Prometheus histogram: cumulative counts per upper bound (the last bound is +Inf). */
export interface Histogram {
  readonly bounds: readonly number[];
  readonly cumulative: readonly number[];
  readonly sum: number;
  readonly count: number;
}

/** Parses histogram `name` (its _bucket, _sum and _count samples) out of Prometheus text. */
export function parseHistogram(text: string, name: string): Histogram {
  const buckets: { le: number; v: number }[] = [];
  let sum: number | null = null;
  let count: number | null = null;
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)$/.exec(line.trim());
    if (!m) continue;
    const [, metric, labels = '', value] = m;
    if (metric === `${name}_bucket`) {
      const le = /(?:^|,)le="([^"]+)"/.exec(labels)?.[1];
      if (le === undefined) throw new Error(`${name}_bucket sample without an le label: ${line}`);
      buckets.push({ le: le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le), v: Number(value) });
    } else if (metric === `${name}_sum`) sum = Number(value);
    else if (metric === `${name}_count`) count = Number(value);
  }
  if (buckets.length === 0 || sum === null || count === null) {
    throw new Error(`histogram ${name} not found in the metrics text (need _bucket, _sum and _count samples)`);
  }
  buckets.sort((a, b) => a.le - b.le);
  return { bounds: buckets.map((b) => b.le), cumulative: buckets.map((b) => b.v), sum, count };
}

/** What was observed between two scrapes of the same histogram. */
export function histogramDelta(before: Histogram, after: Histogram): Histogram {
  if (before.bounds.join() !== after.bounds.join()) throw new Error('histogram buckets changed between scrapes');
  return {
    bounds: after.bounds,
    cumulative: after.cumulative.map((v, i) => v - (before.cumulative[i] ?? 0)),
    sum: after.sum - before.sum,
    count: after.count - before.count,
  };
}

export interface HistogramQuantile {
  /** Upper bound of the bucket holding the quantile (what the histogram can prove: q <= this). */
  readonly upperBound: number;
  /** Prometheus histogram_quantile(): linear interpolation inside that bucket. */
  readonly interpolated: number;
}

/** Quantile q (0..1) of a histogram, Prometheus style; NaN when it holds no observation. */
export function histogramQuantile(h: Histogram, q: number): HistogramQuantile {
  if (h.count <= 0) return { upperBound: Number.NaN, interpolated: Number.NaN };
  const rank = q * h.count;
  const idx = h.cumulative.findIndex((c) => c >= rank);
  const i = idx < 0 ? h.bounds.length - 1 : idx;
  const upper = h.bounds[i] as number;
  const lower = i === 0 ? 0 : (h.bounds[i - 1] as number);
  if (!Number.isFinite(upper)) return { upperBound: upper, interpolated: lower };
  const below = i === 0 ? 0 : (h.cumulative[i - 1] as number);
  const inBucket = (h.cumulative[i] as number) - below;
  const interpolated = inBucket > 0 ? lower + ((upper - lower) * (rank - below)) / inBucket : upper;
  return { upperBound: upper, interpolated };
}

/** Two histograms with the same buckets added up (e.g. deltas of interleaved windows). */
export function histogramAdd(a: Histogram, b: Histogram): Histogram {
  if (a.bounds.join() !== b.bounds.join()) throw new Error('cannot add histograms with different buckets');
  return { bounds: a.bounds, cumulative: a.cumulative.map((v, i) => v + (b.cumulative[i] ?? 0)), sum: a.sum + b.sum, count: a.count + b.count };
}

/** The smallest bucket bound above `bound` (Infinity past the last finite one). */
export function nextBucketBound(h: Histogram, bound: number): number {
  return h.bounds.find((b) => b > bound) ?? Number.POSITIVE_INFINITY;
}
