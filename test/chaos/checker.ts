// The fault suite's checker: pure functions over what the workload recorded (no I/O, unit-tested
// in test/unit/chaos/checker.test.ts). All times are performance.now() milliseconds of the suite's
// process. See README.md ("Measures") for the definitions and why they are sound.

/** One acknowledged INSERT: `node` committed `id`; the client sent it at sentMs and got the ack at atMs. */
export interface Ack {
  readonly id: number;
  readonly node: string;
  readonly sentMs: number;
  readonly atMs: number;
}

/** One pg_is_in_recovery() probe; inRecovery null when the probe failed. */
export interface RecoverySample {
  readonly node: string;
  readonly sentMs: number;
  readonly atMs: number;
  readonly inRecovery: boolean | null;
}

/** A time span in which `node` was seen acting as a primary (acking writes or not in recovery). */
export interface Span {
  readonly node: string;
  readonly startMs: number;
  readonly endMs: number;
  readonly count: number;
}

/** Two nodes acting as primaries at the same time: from the later start to the earlier end. */
export interface Overlap {
  readonly nodes: readonly [string, string];
  readonly startMs: number;
  readonly endMs: number;
  /** Acks (or samples) of each node inside [startMs, endMs]. */
  readonly counts: readonly [number, number];
}

/**
 * A node's acks split into spans wherever two consecutive acks of that node are more than
 * `maxGapMs` apart. The default, 5 s, is shorter than any legitimate return of the primary role
 * to a node (a second failover needs a lease to run out: ttl = 10 s), so two spans of one node
 * never hide a handover in between, while a primary that stalls for a moment stays one span.
 */
export const DEFAULT_SPAN_GAP_MS = 5_000;

/** Probes slower than this say nothing about a precise moment: they break a span. */
export const MAX_PROBE_RTT_MS = 1_000;

function byNode<T extends { node: string }>(items: readonly T[]): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const it of items) {
    const list = m.get(it.node) ?? [];
    list.push(it);
    m.set(it.node, list);
  }
  return m;
}

/** Spans of acknowledged writes per node (see DEFAULT_SPAN_GAP_MS). */
export function ackSpans(acks: readonly Ack[], maxGapMs = DEFAULT_SPAN_GAP_MS): Span[] {
  const spans: Span[] = [];
  for (const [node, list] of byNode(acks)) {
    const times = list.map((a) => a.atMs).sort((a, b) => a - b);
    let start = times[0] as number;
    let prev = start;
    let count = 1;
    for (const t of times.slice(1)) {
      if (t - prev > maxGapMs) {
        spans.push({ node, startMs: start, endMs: prev, count });
        start = t;
        count = 0;
      }
      prev = t;
      count++;
    }
    if (list.length > 0) spans.push({ node, startMs: start, endMs: prev, count });
  }
  return spans;
}

/**
 * Spans in which a node's monitor saw it out of recovery: runs of consecutive probes of that node
 * answering `false`, from the first one's answer to the last one's. A failed probe, a `true`, or a
 * probe slower than MAX_PROBE_RTT_MS ends the run.
 */
export function primarySpans(samples: readonly RecoverySample[]): Span[] {
  const spans: Span[] = [];
  for (const [node, list] of byNode(samples)) {
    const sorted = [...list].sort((a, b) => a.atMs - b.atMs);
    type Run = { startMs: number; endMs: number; count: number };
    let cur: Run | null = null as Run | null;
    for (const s of sorted) {
      const primary = s.inRecovery === false && s.atMs - s.sentMs <= MAX_PROBE_RTT_MS;
      if (primary) {
        cur = cur ? { ...cur, endMs: s.atMs, count: cur.count + 1 } : { startMs: s.atMs, endMs: s.atMs, count: 1 };
      } else if (cur) {
        spans.push({ node, ...cur });
        cur = null;
      }
    }
    if (cur) spans.push({ node, ...cur });
  }
  return spans;
}

/** Every pair of spans of different nodes that share at least one instant. */
export function overlaps(spans: readonly Span[], countIn: (node: string, from: number, to: number) => number): Overlap[] {
  const out: Overlap[] = [];
  for (let i = 0; i < spans.length; i++) {
    for (let j = i + 1; j < spans.length; j++) {
      const a = spans[i] as Span;
      const b = spans[j] as Span;
      if (a.node === b.node) continue;
      const startMs = Math.max(a.startMs, b.startMs);
      const endMs = Math.min(a.endMs, b.endMs);
      if (startMs > endMs) continue;
      const [x, y] = a.node < b.node ? [a, b] : [b, a];
      out.push({
        nodes: [x.node, y.node], startMs, endMs,
        counts: [countIn(x.node, startMs, endMs), countIn(y.node, startMs, endMs)],
      });
    }
  }
  return out.sort((p, q) => p.startMs - q.startMs);
}

/** Split brain by writes: two nodes' ack spans overlap (node A acked after B started and before B's acks stopped). */
export function ackOverlaps(acks: readonly Ack[], maxGapMs = DEFAULT_SPAN_GAP_MS): Overlap[] {
  const count = (node: string, from: number, to: number): number =>
    acks.filter((a) => a.node === node && a.atMs >= from && a.atMs <= to).length;
  return overlaps(ackSpans(acks, maxGapMs), count);
}

/** Split brain by the monitor: two nodes out of recovery at once. */
export function recoveryOverlaps(samples: readonly RecoverySample[]): Overlap[] {
  const count = (node: string, from: number, to: number): number =>
    samples.filter((s) => s.node === node && s.inRecovery === false && s.atMs >= from && s.atMs <= to).length;
  return overlaps(primarySpans(samples), count);
}

/** Acknowledged ids the final primary does not have. */
export function lostWrites(acks: readonly Ack[], idsOnFinalPrimary: ReadonlySet<number>): Ack[] {
  return acks.filter((a) => !idsOnFinalPrimary.has(a.id));
}

export interface Gap {
  readonly gapMs: number;
  readonly startMs: number;
  readonly endMs: number;
}

/**
 * The longest time without an acknowledged write (any node) within [fromMs, toMs]: measured from
 * the last ack at or before fromMs (or fromMs) to toMs, so writes that never resumed count up to toMs.
 */
export function longestGap(acks: readonly Ack[], fromMs: number, toMs: number): Gap {
  const times = acks.map((a) => a.atMs).sort((a, b) => a - b);
  const before = times.filter((t) => t <= fromMs);
  let prev = before.length > 0 ? (before[before.length - 1] as number) : fromMs;
  let best: Gap = { gapMs: 0, startMs: prev, endMs: prev };
  for (const t of [...times.filter((t) => t > fromMs && t <= toMs), toMs]) {
    if (t - prev > best.gapMs) best = { gapMs: t - prev, startMs: prev, endMs: t };
    prev = t;
  }
  return best;
}

/** ms from the fault to the first write acknowledged by `newPrimary` after it, or null if none. */
export function failoverMs(acks: readonly Ack[], faultMs: number, newPrimary: string): number | null {
  const first = acks.filter((a) => a.node === newPrimary && a.atMs > faultMs).sort((a, b) => a.atMs - b.atMs)[0];
  return first ? first.atMs - faultMs : null;
}
