// The fault suite's checker on synthetic logs: it must find overlap where there is one and
// report none for a clean handover, else every figure the suite reports is worthless.
import { describe, expect, it } from 'vitest';
import {
  ackOverlaps, ackSpans, failoverMs, longestGap, lostWrites, primarySpans, recoveryOverlaps, type Ack, type RecoverySample,
} from '../../chaos/checker.js';

let nextId = 1;
/** Acks by `node` every `step` ms from `from` to `to` (inclusive). */
function acks(node: string, from: number, to: number, step = 30): Ack[] {
  const out: Ack[] = [];
  for (let t = from; t <= to; t += step) out.push({ id: nextId++, node, sentMs: t - 5, atMs: t });
  return out;
}

function samples(node: string, from: number, to: number, inRecovery: boolean | null, step = 100): RecoverySample[] {
  const out: RecoverySample[] = [];
  for (let t = from; t <= to; t += step) out.push({ node, sentMs: t - 2, atMs: t, inRecovery });
  return out;
}

describe('ack overlap (split brain by acknowledged writes)', () => {
  it('a clean failover (A stops, B starts later) is no overlap', () => {
    expect(ackOverlaps([...acks('a', 0, 5000), ...acks('b', 9000, 15000)])).toEqual([]);
  });

  it('a failover right after the last ack is still no overlap', () => {
    expect(ackOverlaps([...acks('a', 0, 5000), ...acks('b', 5001, 8000)])).toEqual([]);
  });

  it('both nodes acking at the same time is one overlap, with the acks of each inside it', () => {
    const log = [...acks('a', 0, 10_000, 100), ...acks('b', 8000, 12_000, 100)];
    const o = ackOverlaps(log);
    expect(o).toHaveLength(1);
    expect(o[0]).toMatchObject({ nodes: ['a', 'b'], startMs: 8000, endMs: 10_000, counts: [21, 21] });
  });

  it('the old primary acking once more after the new one started (within the span gap) is an overlap', () => {
    const log = [...acks('a', 0, 5000, 100), ...acks('b', 6000, 7000, 100), { id: 9999, node: 'a', sentMs: 7990, atMs: 8000 }];
    const o = ackOverlaps(log);
    expect(o).toHaveLength(1);
    expect(o[0]?.nodes).toEqual(['a', 'b']);
    expect(o[0]?.counts[1]).toBe(11);
  });

  it('a legitimate return of the primary role after longer than the span gap is no overlap', () => {
    const log = [...acks('a', 0, 5000), ...acks('b', 16_000, 20_000), ...acks('a', 31_000, 35_000)];
    expect(ackSpans(log)).toHaveLength(3);
    expect(ackOverlaps(log)).toEqual([]);
  });

  it('a single interleaved ack of a third node is reported against both others', () => {
    const log = [...acks('a', 0, 1000, 100), ...acks('b', 500, 1500, 100), { id: 8888, node: 'c', sentMs: 700, atMs: 750 }];
    expect(ackOverlaps(log).map((o) => o.nodes)).toEqual([['a', 'b'], ['a', 'c'], ['b', 'c']]);
  });
});

describe('monitor overlap (two nodes out of recovery)', () => {
  it('a promotion after the old primary went down is no overlap', () => {
    const log = [
      ...samples('a', 0, 5000, false), ...samples('a', 5100, 9000, null),
      ...samples('b', 0, 8900, true), ...samples('b', 9000, 12_000, false),
    ];
    expect(recoveryOverlaps(log)).toEqual([]);
  });

  it('two nodes answering false at once is an overlap', () => {
    const log = [...samples('a', 0, 10_000, false), ...samples('b', 0, 7900, true), ...samples('b', 8000, 12_000, false)];
    const o = recoveryOverlaps(log);
    expect(o).toHaveLength(1);
    expect(o[0]).toMatchObject({ nodes: ['a', 'b'], startMs: 8000, endMs: 10_000 });
  });

  it('a failed probe or a slow one breaks a span; a true ends it', () => {
    const log: RecoverySample[] = [
      { node: 'a', sentMs: 0, atMs: 1, inRecovery: false },
      { node: 'a', sentMs: 100, atMs: 2000, inRecovery: false },
      { node: 'a', sentMs: 2100, atMs: 2101, inRecovery: false },
      { node: 'a', sentMs: 2200, atMs: 2201, inRecovery: null },
      { node: 'a', sentMs: 2300, atMs: 2301, inRecovery: false },
      { node: 'a', sentMs: 2400, atMs: 2401, inRecovery: true },
    ];
    expect(primarySpans(log).map((s) => [s.startMs, s.endMs])).toEqual([[1, 1], [2101, 2101], [2301, 2301]]);
  });
});

describe('lost writes, gaps, failover time', () => {
  it('lost writes are the acknowledged ids the final primary lacks', () => {
    const log = acks('a', 0, 300, 100);
    const have = new Set(log.slice(0, 2).map((a) => a.id));
    expect(lostWrites(log, have).map((a) => a.id)).toEqual(log.slice(2).map((a) => a.id));
  });

  it('the longest gap starts at the last ack before the fault and counts writes that never resumed', () => {
    const log = [...acks('a', 0, 1000, 100), ...acks('b', 4000, 5000, 100)];
    expect(longestGap(log, 1050, 6000)).toEqual({ gapMs: 3000, startMs: 1000, endMs: 4000 });
    expect(longestGap(acks('a', 0, 1000, 100), 1050, 9000)).toEqual({ gapMs: 8000, startMs: 1000, endMs: 9000 });
  });

  it('failover time is the fault to the first ack of the new primary', () => {
    const log = [...acks('a', 0, 1000, 100), ...acks('b', 4000, 5000, 100)];
    expect(failoverMs(log, 1050, 'b')).toBe(2950);
    expect(failoverMs(log, 1050, 'c')).toBeNull();
  });
});
