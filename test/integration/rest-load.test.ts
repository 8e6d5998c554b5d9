// The REST API under health-check load on a real 3-node cluster: 500 requests/s, each on a new
// TCP connection, must not slow the agent's loop (SPEC section 6: "no request can crash or block
// the agent's loop"), and GET /primary latency is reported against SPEC section 10's target.
// Timing targets are asserted by the benchmarks (npm run bench); here only sane bounds.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep } from '../harness/index.js';
import { startAgentCluster, type AgentCluster, type AgentNode } from '../support/agent-cluster.js';
import { cpuSample } from '../../bench/proc-usage.js';
import {
  mergeRateLoads, rateLoad, sequentialLatency, type RateLoadResult, type Target,
} from '../../bench/http-timing.js';
import {
  histogramAdd, histogramDelta, histogramQuantile, nextBucketBound, parseHistogram, summarize, type Histogram,
} from '../../bench/stats.js';

// Idle and loaded slices alternate, so that load from other processes on the machine, which
// drifts over a minute, falls on both sides of the comparison alike.
const ROUNDS = 4;
const LOOP_WAIT_SEC = 1;
const SLICE_MS = 5_000;
const RATE_PER_SEC = 500;
const TICK_HISTOGRAM = 'pg_ha_agent_tick_duration_seconds';
let cluster: AgentCluster;
let leader: AgentNode;
const figures: Record<string, unknown> = {};

async function scrapeTicks(node: AgentNode): Promise<Histogram> {
  const res = await fetch(`http://127.0.0.1:${node.apiPort}/metrics`, { signal: AbortSignal.timeout(5000) });
  expect(res.status).toBe(200);
  return parseHistogram(await res.text(), TICK_HISTOGRAM);
}

interface Slice { ticks: Histogram; cpuSec: number; wallSec: number }

/** The node's ticks completed, and the CPU its agent process used, while `during` runs. */
async function sliceDuring(node: AgentNode, during: () => Promise<unknown>): Promise<Slice> {
  const pid = node.agent?.pid;
  if (pid === undefined) throw new Error(`${node.name}: agent not started`);
  const before = await scrapeTicks(node);
  const cpu0 = cpuSample(pid);
  await during();
  const cpu1 = cpuSample(pid);
  return { ticks: histogramDelta(before, await scrapeTicks(node)), cpuSec: cpu1.cpuSec - cpu0.cpuSec, wallSec: (cpu1.atMs - cpu0.atMs) / 1000 };
}

function addSlices(a: Slice | null, b: Slice): Slice {
  return a ? { ticks: histogramAdd(a.ticks, b.ticks), cpuSec: a.cpuSec + b.cpuSec, wallSec: a.wallSec + b.wallSec } : b;
}

/** ROUNDS x (an idle slice, then a slice of load on `targets`), summed per kind. */
async function interleaved(node: AgentNode, targets: readonly Target[]): Promise<{ idle: Slice; load: Slice; runs: RateLoadResult[] }> {
  let idle: Slice | null = null;
  let load: Slice | null = null;
  const runs: RateLoadResult[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    idle = addSlices(idle, await sliceDuring(node, () => sleep(SLICE_MS)));
    load = addSlices(load, await sliceDuring(node, async () => {
      // Room for the backlog of a stall of the whole machine (other processes share its 2 cores).
      runs.push(await rateLoad({ targets, ratePerSec: RATE_PER_SEC, durationMs: SLICE_MS, maxInFlight: 1000, timeoutMs: 10_000 }));
    }));
  }
  return { idle: idle as Slice, load: load as Slice, runs };
}

interface TickStats { ticks: number; p99UpperMs: number; p99InterpolatedMs: number; meanMs: number }

function tickStats(h: Histogram): TickStats {
  const q = histogramQuantile(h, 0.99);
  const ms = (s: number): number => Math.round(s * 1000 * 10) / 10;
  return { ticks: h.count, p99UpperMs: ms(q.upperBound), p99InterpolatedMs: ms(q.interpolated), meanMs: ms(h.sum / h.count) };
}

beforeAll(async () => {
  // loop_wait 1 (ttl 10, retry_timeout 4) doubles the ticks per window compared to loop_wait 2.
  cluster = await startAgentCluster({ nodes: 3, ttl: 10, loopWait: LOOP_WAIT_SEC, retryTimeout: 4 });
  leader = await cluster.waitForLeader(120_000);
  await cluster.waitForStreaming(cluster.others(leader).map((r) => r.name), 120_000);
});

afterAll(() => {
  console.log(`rest-load figures: ${JSON.stringify(figures)}`);
});

describe('REST API under health-check load', () => {
  it(`${RATE_PER_SEC} health checks/s on new connections do not slow the leader's loop`, async () => {
    const base = `http://127.0.0.1:${leader.apiPort}`;
    const { idle: iS, load: lS, runs } = await interleaved(leader, [
      { url: `${base}/primary`, method: 'OPTIONS' },
      { url: `${base}/replica` },
      { url: `${base}/health` },
    ]);
    const idle = tickStats(iS.ticks);
    const loaded = tickStats(lS.ticks);
    const l = mergeRateLoads(runs);
    const pct = (s: Slice): number => Math.round((s.cpuSec / s.wallSec) * 1000) / 10;
    figures['tickIdle'] = idle;
    figures['tickUnderLoad'] = loaded;
    figures['load'] = {
      due: l.due, answered: l.answered, failed: l.failed, dropped: l.dropped, achievedPerSec: l.achievedPerSec,
      outcomes: l.outcomes, latency: summarize(l.latenciesMs), firstError: l.firstError,
    };
    // What the checks cost the agent: CPU beyond its idle rate, per request.
    const extraCpuSec = lS.cpuSec - (iS.cpuSec / iS.wallSec) * lS.wallSec;
    figures['agentCpu'] = {
      idlePctOfCore: pct(iS), loadPctOfCore: pct(lS), perRequestMs: Math.round((extraCpuSec / l.answered) * 1e6) / 1e3,
    };
    // The load was what we claim: the offered rate was sent (requests due while 1000 were open
    // are dropped by the generator, which only happens when the whole machine stalls), the agent
    // answered them, and every answer was right: the leader kept answering /primary 200
    // throughout, so it never lost the lease under load.
    expect(l.sent).toBeGreaterThanOrEqual(RATE_PER_SEC * (ROUNDS * SLICE_MS / 1000) * 0.9);
    expect(l.failed, l.firstError ?? '').toBeLessThanOrEqual(l.sent * 0.01);
    expect(Object.keys(l.outcomes).sort()).toEqual(['GET /health -> 200', 'GET /replica -> 503', 'OPTIONS /primary -> 200']);
    // The loop kept its pace: about as many ticks as without load.
    expect(idle.ticks).toBeGreaterThanOrEqual(5);
    expect(loaded.ticks).toBeGreaterThanOrEqual(Math.floor(idle.ticks * 0.7));
    // The histogram only proves "p99 <= bucket bound", and its buckets are 5, 10, 25, 50, 100,
    // 250, 500, 1000 ms ..., so one bucket up is already 2 to 2.5x. The bound: one bucket, or one
    // loop_wait (1 s) more than without load, whichever is larger. The slack is for CPU
    // starvation, not for the agent: this 2-core machine also runs the load generator, three
    // PostgreSQL, etcd and often other work, and the agent needs about a quarter of a core for
    // 500 new connections/s, so when the machine is saturated requests queue and every await of
    // the tick waits behind them (measured: up to the 1 s bucket with a 1.2 s request backlog).
    // It still means something: renewals are at most one loop late, far inside ttl = 10 s, and a
    // loop that health checks block shows ticks of seconds, fewer ticks, or a leader that loses
    // /primary (asserted above).
    const bound = Math.max(nextBucketBound(lS.ticks, idle.p99UpperMs / 1000) * 1000, idle.p99UpperMs + LOOP_WAIT_SEC * 1000);
    expect(loaded.p99UpperMs).toBeLessThanOrEqual(bound);
  });

  it('reports GET /primary latency with a new TCP connection per request', async () => {
    const r = await sequentialLatency({ url: `http://127.0.0.1:${leader.apiPort}/primary` }, { count: 2000, warmup: 50 });
    const s = summarize(r.samplesMs);
    figures['getPrimaryNewConnection'] = { ...s, targetP99Ms: 2 };
    expect(r.statuses).toEqual({ 200: 2000 });
    expect(s.p99Ms).toBeLessThan(200);
  });
});
