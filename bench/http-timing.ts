// HTTP timing with a new TCP connection per request (what HAProxy's health checks do): no
// keep-alive agent, so every sample includes connect, request, response and close.
import http from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';

export interface Target {
  readonly url: string;
  /** GET by default. */
  readonly method?: string;
}

export interface TimedResponse {
  readonly status: number;
  readonly ms: number;
}

/** One request on a fresh connection; resolves when the whole body has arrived. */
export function timedRequest(target: Target, timeoutMs = 5_000): Promise<TimedResponse> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = http.request(target.url, { method: target.method ?? 'GET', agent: false, timeout: timeoutMs });
    req.on('response', (res) => {
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - t0 }));
      res.resume();
    });
    req.on('timeout', () => req.destroy(new Error(`${target.method ?? 'GET'} ${target.url}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

export interface SequentialResult {
  readonly samplesMs: number[];
  /** Count per HTTP status code. */
  readonly statuses: Record<string, number>;
}

/** `count` requests one after the other (after `warmup` unrecorded ones), each on a new connection. */
export async function sequentialLatency(target: Target, opts: { count: number; warmup?: number }): Promise<SequentialResult> {
  const samplesMs: number[] = [];
  const statuses: Record<string, number> = {};
  const warmup = opts.warmup ?? 50;
  for (let i = 0; i < warmup + opts.count; i++) {
    const r = await timedRequest(target);
    if (i < warmup) continue;
    samplesMs.push(r.ms);
    statuses[r.status] = (statuses[r.status] ?? 0) + 1;
  }
  return { samplesMs, statuses };
}

export interface RateLoadOptions {
  readonly targets: readonly Target[];
  readonly ratePerSec: number;
  readonly durationMs: number;
  /** Requests due while this many are open are counted as dropped (the load is open-loop). */
  readonly maxInFlight?: number;
  readonly timeoutMs?: number;
}

export interface RateLoadResult {
  readonly due: number;
  readonly sent: number;
  readonly dropped: number;
  readonly answered: number;
  readonly failed: number;
  readonly achievedPerSec: number;
  readonly elapsedMs: number;
  /** Count per "METHOD url -> status". */
  readonly outcomes: Record<string, number>;
  readonly latenciesMs: number[];
  readonly firstError: string | null;
}

/**
 * Open-loop load: requests are started on a fixed schedule (round robin over the targets),
 * whether or not earlier ones have finished, so a slow server cannot slow the offered rate down.
 */
export async function rateLoad(opts: RateLoadOptions): Promise<RateLoadResult> {
  if (opts.targets.length === 0) throw new Error('rateLoad needs at least one target');
  const maxInFlight = opts.maxInFlight ?? 256;
  const outcomes: Record<string, number> = {};
  const latenciesMs: number[] = [];
  const open = new Set<Promise<void>>();
  let due = 0; let sent = 0; let dropped = 0; let answered = 0; let failed = 0;
  let firstError: string | null = null;
  const t0 = performance.now();
  const fire = (target: Target): void => {
    const p = timedRequest(target, opts.timeoutMs ?? 5_000).then((r) => {
      answered++;
      latenciesMs.push(r.ms);
      const key = `${target.method ?? 'GET'} ${new URL(target.url).pathname} -> ${r.status}`;
      outcomes[key] = (outcomes[key] ?? 0) + 1;
    }, (err: unknown) => {
      failed++;
      firstError ??= err instanceof Error ? err.message : String(err);
    }).finally(() => open.delete(p));
    open.add(p);
  };
  for (let elapsed = 0; elapsed < opts.durationMs; elapsed = performance.now() - t0) {
    const shouldHave = Math.floor((elapsed / 1000) * opts.ratePerSec);
    for (; due < shouldHave; due++) {
      if (open.size >= maxInFlight) {
        dropped++;
        continue;
      }
      fire(opts.targets[due % opts.targets.length] as Target);
      sent++;
    }
    await delay(2);
  }
  await Promise.all([...open]);
  const elapsedMs = performance.now() - t0;
  return {
    due, sent, dropped, answered, failed, elapsedMs, outcomes, latenciesMs, firstError,
    achievedPerSec: Math.round((answered / elapsedMs) * 1000 * 10) / 10,
  };
}

/** Several load runs counted as one (e.g. slices interleaved with idle slices). */
export function mergeRateLoads(runs: readonly RateLoadResult[]): RateLoadResult {
  const outcomes: Record<string, number> = {};
  for (const r of runs) for (const [k, v] of Object.entries(r.outcomes)) outcomes[k] = (outcomes[k] ?? 0) + v;
  const total = (f: (r: RateLoadResult) => number): number => runs.reduce((a, r) => a + f(r), 0);
  const answered = total((r) => r.answered);
  const elapsedMs = total((r) => r.elapsedMs);
  return {
    due: total((r) => r.due), sent: total((r) => r.sent), dropped: total((r) => r.dropped), answered,
    failed: total((r) => r.failed), elapsedMs, outcomes,
    latenciesMs: runs.flatMap((r) => r.latenciesMs),
    firstError: runs.find((r) => r.firstError !== null)?.firstError ?? null,
    achievedPerSec: elapsedMs > 0 ? Math.round((answered / elapsedMs) * 1000 * 10) / 10 : 0,
  };
}
