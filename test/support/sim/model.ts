// The simulated cluster's state: nodes (a running agent or none, fake PostgreSQL, network faults),
// the contract-tested fake etcd store, virtual time and the trace. Behaviour lives in node.ts (the
// real loop's wiring), sim-pg.ts, sim-etcd.ts, rest.ts, faults.ts, invariants.ts, world.ts.
import type { DynamicConfig, Tags } from '../../../src/config/types.js';
import type { ClusterView } from '../../../src/core/cluster.js';
import type { DecideInput, Decision } from '../../../src/core/decide-types.js';
import type { FakeEtcdStore } from '../fakes/fake-store.js';
import type { StatusSnapshot } from '../../../src/obs/status.js';
import { clusterPrefix } from '../../../src/dcs/keys.js';
import { buildClusterView } from '../../../src/dcs/view.js';
import type { FakePg } from './fake-pg.js';
import type { SimGuard } from './guard.js';
import type { FaultSet } from './faults.js';
import type { Rng } from './prng.js';
import type { Owner, VirtualTime } from './vtime.js';
import type { Wal } from './wal.js';

export const STEP_MS = 500;
export const TTL_SEC = 10;
export const SCOPE = 'sim';
export const PREFIX = clusterPrefix('/service/', SCOPE);
export const AGENT = 'pg-ha-agent/sim';
/**
 * How long a fence takes from the signal to a stopped postmaster: SIGQUIT, then SIGKILL after
 * FENCE_KILL_AFTER_MS (src/core/fencing.ts), plus scheduling. The lease margin (1 s at ttl 10,
 * src/dcs/lease-tracker.ts) must cover it.
 */
export const FENCE_MAX_MS = 350;

/** The agent process of a node while it runs (node.ts builds it from the real loop's parts). */
export interface AgentRuntime {
  readonly owner: Owner;
  /** The lease keeper's state: the lease this run keeps alive and its deadline. */
  lease(): { readonly leaseId: string | null; readonly validUntilMs: number };
  /** What this run has read from etcd: until it reads, the pause its previous run saw holds. */
  etcdRead(): 'read' | 'pending' | 'unreadable';
  /** The dynamic config this agent last saw (pause, maximum_lag_on_failover). */
  dynamic(): DynamicConfig;
  /** The supervisor's sticky fence flag (in-process: a restarted agent starts unfenced). */
  fenced: boolean;
  /** Wake the loop (postmaster gone), as the daemon's postmaster watch does. */
  wake(): void;
  lastReason: string;
  /** The reason of a decision that halted this run (not published: a refusal writes nothing more). */
  haltReason: string | null;
  /** What GET /patroni serves: the last tick's status snapshot. */
  status: StatusSnapshot | null;
  /** What the job running now starts PostgreSQL as (GET /patroni's starting_as). */
  startingAs(): 'primary' | 'replica' | null;
  /** SIGTERM ('term') or SIGUSR2 ('restart'): the loop ends and the real way out runs (way-out.ts). */
  terminate(kind: 'term' | 'restart'): void;
  /** The process ends (its owner dies, its etcd connection closes); its fence guard stays. */
  stop(): void;
}

export interface Faults {
  crashedUntilMs: number | null;
  /** The agent alone was killed (kill -9; PostgreSQL and the fence guard go on) and restarts then. */
  agentDownUntilMs: number | null;
  etcdCutUntilMs: number | null;
  isolatedUntilMs: number | null;
  /** etcd replies to this node are slow (up to 1.5 s) and a third of them are lost, until then. */
  etcdLossyUntilMs: number | null;
  /** PostgreSQL is hung until then: SQL times out (3 s, the observer's bound); signals still work. */
  pgHungUntilMs: number | null;
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
  /** null while the node is crashed or its agent was killed. */
  agent: AgentRuntime | null;
  /** The live fence guard process (guard.ts): outlives a killed agent while armed, dies with the node. */
  guard: SimGuard | null;
  /** The guard's hand-over record on disk (the real codec); it outlives every process. */
  guardFile: string | null;
  /**
   * The leases of earlier agent runs killed while PostgreSQL was writable: the key may still be
   * held under one of them (until the next run re-attaches it), bound by that run's deadline,
   * which the guard holds. Forgotten once PostgreSQL is not writable.
   */
  prevLeases: { readonly leaseId: string | null; readonly validUntilMs: number }[];
  /**
   * The agent was killed while it saw pause: its guard was disarmed (the operator holds the fence,
   * SPEC 5.8) and nothing fences its PostgreSQL until an agent runs there again.
   */
  killedInPause: boolean;
  faults: Faults;
}

export interface WorldState {
  readonly seed: number;
  readonly rng: Rng;
  readonly vt: VirtualTime;
  /** etcd and the PostgreSQL servers: they go on while an agent is frozen. */
  readonly world: Owner;
  readonly store: FakeEtcdStore;
  readonly nodes: readonly SimNode[];
  readonly bootstrapDcs: DynamicConfig;
  /** The decision function under test (src/core decide(), or a deliberately broken one). */
  readonly decide: (input: DecideInput) => Decision;
  /**
   * true: the promotion job as src/loop/promotion.ts runs it (history entry, then pg_promote).
   * false: a broken variant (pg_promote, then the entry), to show the checks see what it breaks.
   */
  readonly historyFirst: boolean;
  /** Which faults are drawn (SimOptions.faultSet). */
  readonly faultSet: FaultSet;
  step: number;
  etcdDownUntilMs: number | null;
  /** Operator pause (the `pause` config key) until then. */
  pauseUntilMs: number | null;
  /** Faults and operator events are injected only while this is true. */
  chaos: boolean;
  /**
   * A stranger's member key in the cluster until then (fault set 5): a Patroni member (no `agent`
   * field) or a twin, another host's agent that joined under an existing member's name while that
   * member's key had lapsed. A newcomer refuses to join (exit 2) while it is there.
   */
  stranger: { readonly key: string; readonly untilMs: number } | null;
  /** The leader whose key an operator deleted (S1 exempts it until its deadline or the next acquire). */
  keyDeletedFrom: string | null;
  /**
   * WAL of the last leader that ran as a writable primary under a valid lease (or as the holder of
   * an operator-deleted key within its deadline, which S1 exempts: its writes are acknowledged too).
   */
  canonical: Wal;
  /**
   * Probes that could not reach their target ("caller>target" -> when the probe was sent): S2
   * counts the members a candidate can know of, and a link that heals after the probe is not one.
   */
  readonly probeFailedAt: Map<string, number>;
  nextUid: number;
  readonly sysid: string;
  readonly trace: string[];
  readonly violations: string[];
  stats: { ticks: number; promotions: number; faults: number; fences: number; switchovers: number; rewinds: number };
}

export const nowMs = (w: WorldState): number => w.vt.nowMs;
export const byName = (w: WorldState, name: string): SimNode | undefined => w.nodes.find((n) => n.name === name);
export const byHost = (w: WorldState, host: string): SimNode | undefined => w.nodes.find((n) => n.host === host);

export function log(w: WorldState, line: string): void {
  w.trace.push(`#${w.step} t=${(nowMs(w) / 1000).toFixed(3)}s ${line}`);
  if (w.trace.length > 200 && process.env["SIM_TRACE_ALL"] === undefined) w.trace.splice(0, w.trace.length - 150);
}

export function violation(w: WorldState, what: string): void {
  log(w, `VIOLATION ${what}`);
  w.violations.push(`step ${w.step}: ${what}`);
}

/** The cluster as etcd holds it now (ground truth for the checks; not what any agent saw). */
export function etcdView(w: WorldState): ClusterView {
  const records = w.store.dump(PREFIX).map((kv) => ({ ...kv, key: kv.key.slice(PREFIX.length) }));
  return buildClusterView(w.store.revision, records);
}

/** The leader key's holder and lease in etcd, or null. */
export function leaderKey(w: WorldState): { name: string; lease: string } | null {
  const kv = w.store.dump(`${PREFIX}leader`).find((r) => r.key === `${PREFIX}leader`);
  return kv ? { name: kv.value, lease: kv.lease } : null;
}

/** Can `a` and `b` talk (REST probes, replication, pg_basebackup, pg_rewind)? */
export function linked(a: SimNode, b: SimNode): boolean {
  return a.faults.isolatedUntilMs === null && b.faults.isolatedUntilMs === null;
}

/** The agent process exists and is not stopped (SIGSTOP). */
export function agentRuns(w: WorldState, n: SimNode): boolean {
  return n.agent !== null && nowMs(w) >= n.agent.owner.heldUntilMs;
}

/**
 * The agent sees pause (SPEC 5.8: the operator holds the fence): in its current view, or in the
 * view its last completed tick decided on. A tick is not atomic here: between reading a resume
 * from etcd and fencing it still observes, decides and acts (the old simulator's ticks took no time).
 */
export function paused(n: SimNode): boolean {
  if (n.agent === null || startingAfterPauseKill(n)) return n.killedInPause;
  return n.agent.dynamic().pause === true || n.agent.status?.paused === true;
}

/**
 * An agent started where the previous run was killed in pause, before a tick that read etcd has
 * ended: it finds a writable PostgreSQL no guard holds and keeps the previous run's pause (its
 * hand-over record) until etcd answers; that tick takes the key or fences (seed 945 of set 6: etcd
 * was down; `killedInPause` is cleared when such a tick publishes).
 */
export function startingAfterPauseKill(n: SimNode): boolean {
  return n.killedInPause && n.agent !== null;
}
