// The simulated cluster's state: nodes (agent + fake PostgreSQL + network), the fake etcd, the
// clock and the trace. Behaviour lives in agent.ts, jobs.ts, faults.ts, invariants.ts, world.ts.
import type { DynamicConfig, Tags } from '../../../src/config/types.js';
import type { ClusterView } from '../../../src/core/cluster.js';
import type { Action, DecideInput, Decision, FinishedJob, JobSpec, Memory } from '../../../src/core/decide-types.js';
import type { FakeEtcd } from './fake-etcd.js';
import type { FakePg } from './fake-pg.js';
import type { Rng } from './prng.js';
import type { Wal } from './wal.js';

export const STEP_MS = 500;
export const TTL_MS = 10_000;
/** validUntil = send time of the acknowledged keepalive + ttl - margin. */
export const LEASE_MARGIN_MS = 2_000;
export const LOOP_WAIT_MS = 2_000;
export const AGENT = 'pg-ha-agent/sim';

export interface SimJob {
  readonly spec: JobSpec;
  readonly startedMs: number;
  dueMs: number;
  /** Switchover: the shutdown checkpoint's end the candidate must reach, once stopped. */
  target: number | null;
  deadlineMs: number;
}

export interface AgentState {
  /** The process exists (false while the node is crashed). */
  alive: boolean;
  /** SIGSTOP until then: no ticks, no jobs; the fence guard still fires. */
  frozenUntilMs: number;
  /** Awaiting a slow promote inside the executor; the rest of the action list waits. */
  blocked: { readonly rest: readonly Action[] } | null;
  memory: Memory;
  job: SimJob | null;
  finished: FinishedJob | null;
  leaseId: string | null;
  validUntilMs: number;
  fenced: boolean;
  view: ClusterView | null;
  config: DynamicConfig;
  nextTickMs: number;
  wakeToken: string;
  lastReason: string;
  lastActions: string;
  /** What GET /patroni serves: the status snapshot of the last tick (SPEC 6: cached state). */
  published: Published | null;
}

export interface Published {
  readonly role: 'primary' | 'replica' | 'other';
  readonly running: boolean;
  readonly walPosition: number | null;
  readonly timeline: number | null;
  readonly streaming: boolean;
}

export interface Faults {
  crashedUntilMs: number | null;
  etcdCutUntilMs: number | null;
  isolatedUntilMs: number | null;
  /** PostgreSQL refuses to start until then. */
  pgBrokenUntilMs: number | null;
  /** The next promotion on this node takes this long. */
  slowPromoteMs: number;
}

export interface SimNode {
  readonly name: string;
  readonly host: string;
  readonly tags: Tags;
  pg: FakePg;
  agent: AgentState;
  faults: Faults;
}

export interface WorldState {
  readonly seed: number;
  readonly rng: Rng;
  readonly etcd: FakeEtcd;
  readonly nodes: readonly SimNode[];
  readonly bootstrapDcs: DynamicConfig;
  /** The decision function under test (src/core decide(), or a deliberately broken one). */
  readonly decide: (input: DecideInput) => Decision;
  /**
   * The executor records the promotion in `history` before pg_promote and gives up the promotion
   * when it cannot (a proposed order); false models src/loop/executor.ts today (append after).
   */
  readonly historyFirst: boolean;
  nowMs: number;
  step: number;
  etcdDownUntilMs: number | null;
  /** Operator pause (the `pause` config key) until then. */
  pauseUntilMs: number | null;
  /** Faults and operator events are injected only while this is true. */
  chaos: boolean;
  /** The leader whose key an operator deleted (S1 exempts it until its deadline or the next acquire). */
  keyDeletedFrom: string | null;
  /** WAL of the last leader that ran as a writable primary under a valid lease. */
  canonical: Wal;
  nextUid: number;
  readonly sysid: string;
  readonly trace: string[];
  readonly violations: string[];
  stats: { ticks: number; promotions: number; faults: number; fences: number; switchovers: number; rewinds: number };
}

export const byName = (w: WorldState, name: string): SimNode | undefined => w.nodes.find((n) => n.name === name);
export const byHost = (w: WorldState, host: string): SimNode | undefined => w.nodes.find((n) => n.host === host);

export function log(w: WorldState, line: string): void {
  w.trace.push(`#${w.step} t=${(w.nowMs / 1000).toFixed(1)}s ${line}`);
  if (w.trace.length > 160) w.trace.splice(0, w.trace.length - 120);
}

export function violation(w: WorldState, what: string): void {
  log(w, `VIOLATION ${what}`);
  w.violations.push(`step ${w.step}: ${what}`);
}

export function etcdReachable(w: WorldState, n: SimNode): boolean {
  return w.etcdDownUntilMs === null && n.faults.etcdCutUntilMs === null && n.faults.isolatedUntilMs === null;
}

/** Can `a` and `b` talk (REST probes, replication, pg_basebackup, pg_rewind)? */
export function linked(a: SimNode, b: SimNode): boolean {
  return a.faults.isolatedUntilMs === null && b.faults.isolatedUntilMs === null;
}

export function agentRuns(w: WorldState, n: SimNode): boolean {
  return n.agent.alive && w.nowMs >= n.agent.frozenUntilMs;
}
