// Agent memory (RSS) and CPU at idle, SPEC section 10 (targets <= 60 MiB, <= 0.2 % of a core): each
// node's agent process (Patroni: its Python process) on a ready 3-node cluster after it settled.
// Helper processes the agent runs besides PostgreSQL (the fence guard) are reported separately.
import { readFileSync } from 'node:fs';
import { childPids, sleep } from '../test/harness/index.js';
import { cpuPercent, cpuSample, rssBytes } from './proc-usage.js';
import type { Scenario, SystemName } from './scenario.js';
import { startSystemCluster, waitClusterReady } from './systems.js';

export interface IdleResourcesOptions {
  readonly settleMs?: number;
  readonly windowMs?: number;
}

const MiB = 1024 * 1024;
const round = (v: number, digits: number): number => Math.round(v * 10 ** digits) / 10 ** digits;

/** Children that are not PostgreSQL (the agent's fence guard; Patroni has none). */
function helperPids(pid: number): number[] {
  return childPids(pid).filter((c) => {
    try {
      return readFileSync(`/proc/${c}/comm`, 'utf8').trim() !== 'postgres';
    } catch {
      return false;
    }
  });
}

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

export function idleResources(system: SystemName, opts: IdleResourcesOptions = {}): Scenario {
  return {
    name: 'idle-resources',
    system,
    targets: { rssMiBMax: 60, cpuPctMax: 0.2 },
    async run() {
      const cluster = await startSystemCluster(system);
      await waitClusterReady(cluster);
      // Pacing, not waiting for a condition: start-up work (slots, first checkpoints) settles.
      await sleep(opts.settleMs ?? 10_000);
      const pids = cluster.nodes.map((n) => {
        if (!n.agent || n.agent.exitInfo()) throw new Error(`${n.name}: agent not running`);
        return n.agent.pid;
      });
      const helpers = pids.map(helperPids);
      const before = pids.map(cpuSample);
      const helpersBefore = helpers.map((hs) => hs.map(cpuSample));
      const windowMs = opts.windowMs ?? 30_000;
      await sleep(windowMs);
      const cpu = pids.map((p, i) => cpuPercent(before[i] as ReturnType<typeof cpuSample>, cpuSample(p)));
      const helperCpu = helpers.map((hs, i) => hs.reduce((a, h, j) => a + cpuPercent(helpersBefore[i]?.[j] as ReturnType<typeof cpuSample>, cpuSample(h)), 0));
      const rss = pids.map((p) => rssBytes(p) / MiB);
      const helperRss = helpers.map((hs) => hs.reduce((a, h) => a + rssBytes(h) / MiB, 0));
      return {
        windowSec: windowMs / 1000,
        cpuPctMean: round(mean(cpu), 3), cpuPctMax: round(Math.max(...cpu), 3),
        rssMiBMean: round(mean(rss), 1), rssMiBMax: round(Math.max(...rss), 1),
        helperProcesses: helpers[0]?.length ?? 0,
        helperCpuPctMean: round(mean(helperCpu), 3), helperRssMiBMean: round(mean(helperRss), 1),
      };
    },
  };
}
