// REST health latency, SPEC section 10: GET /primary p99 with a new TCP connection per request
// (target <= 2 ms), measured on the leader of a ready 3-node cluster; also OPTIONS /primary (what
// HAProxy sends) and GET /replica on a replica.
import { sequentialLatency, type Target } from './http-timing.js';
import type { Scenario, SystemName } from './scenario.js';
import { summarize } from './stats.js';
import { startSystemCluster, waitClusterReady } from './systems.js';

export interface RestLatencyOptions {
  /** Recorded requests per endpoint (default 2000, after 100 unrecorded warm-up requests). */
  readonly requests?: number;
}

/** Sequential requests to `target`; every one must answer `status`. Figures prefixed by `prefix`. */
async function measure(prefix: string, target: Target, status: number, requests: number): Promise<Record<string, number>> {
  const r = await sequentialLatency(target, { count: requests, warmup: 100 });
  const wrong = Object.entries(r.statuses).filter(([code]) => Number(code) !== status);
  if (wrong.length > 0) {
    throw new Error(`${target.method ?? 'GET'} ${target.url}: expected every answer ${status}, got ${JSON.stringify(r.statuses)}`);
  }
  const s = summarize(r.samplesMs);
  return { [`${prefix}P50Ms`]: s.p50Ms, [`${prefix}P90Ms`]: s.p90Ms, [`${prefix}P99Ms`]: s.p99Ms, [`${prefix}MaxMs`]: s.maxMs };
}

export function restLatency(system: SystemName, opts: RestLatencyOptions = {}): Scenario {
  const requests = opts.requests ?? 2000;
  return {
    name: 'rest-latency',
    system,
    targets: { getPrimaryP99Ms: 2 },
    async run() {
      const cluster = await startSystemCluster(system);
      const leader = await waitClusterReady(cluster);
      const replica = cluster.others(leader)[0];
      if (!replica) throw new Error('rest-latency needs a cluster with a replica');
      const api = (n: typeof leader, path: string): string => `http://127.0.0.1:${n.apiPort}${path}`;
      return {
        requests,
        ...await measure('getPrimary', { url: api(leader, '/primary') }, 200, requests),
        ...await measure('optionsPrimary', { url: api(leader, '/primary'), method: 'OPTIONS' }, 200, requests),
        ...await measure('getReplica', { url: api(replica, '/replica') }, 200, requests),
      };
    },
  };
}
