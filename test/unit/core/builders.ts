// Builders for decide() inputs: sensible defaults (a healthy 3-node cluster seen from pg1, the
// leader) that each test bends with overrides, so a scenario states only what matters to it.
import type { DynamicConfig, Tags } from '../../../src/config/types.js';
import type { ClusterView, HistoryEntry, LeaderView, MemberView, SyncState } from '../../../src/core/cluster.js';
import {
  EMPTY_MEMORY,
  type Action,
  type DecideInput,
  type Decision,
  type FinishedJob,
  type JobSpec,
  type Memory,
  type MemberRef,
  type PeerProbe,
  type RunningJob,
} from '../../../src/core/decide-types.js';
import type { ControlData, PgDown, PgRunning, PgUnresponsive, WalReceiver } from '../../../src/core/local-pg.js';

export const SYSID = '7300000000000000001';
export const NOW_MS = 1_000_000;
export const WALL_NOW_MS = Date.parse('2024-05-01T12:00:00.000Z');
export const AGENT = 'pg-ha-agent/0.1.0';

export const hostOf = (name: string): string => `${name}.test`;
export const connUrlOf = (name: string): string => `postgres://${hostOf(name)}:5432/postgres`;
export const apiUrlOf = (name: string): string => `http://${hostOf(name)}:8008/patroni`;

export function ref(name: string): MemberRef {
  return { name, host: hostOf(name), port: 5432, apiUrl: apiUrlOf(name) };
}

export function dynamicConfig(over: Partial<DynamicConfig> = {}): DynamicConfig {
  return {
    ttl: 10,
    loop_wait: 2,
    retry_timeout: 4,
    maximum_lag_on_failover: 1_048_576,
    maximum_lag_on_syncnode: -1,
    primary_start_timeout: 300,
    primary_stop_timeout: 300,
    synchronous_mode: false,
    synchronous_mode_strict: false,
    synchronous_node_count: 1,
    failsafe_mode: false,
    check_timeline: false,
    pause: false,
    postgresql: { use_pg_rewind: true, use_slots: true, parameters: {} },
    ...over,
  };
}

export function member(name: string, over: Partial<MemberView> = {}): MemberView {
  return {
    name,
    connUrl: connUrlOf(name),
    apiUrl: apiUrlOf(name),
    state: 'running',
    role: 'replica',
    timeline: 1,
    xlogLocation: 5_000,
    tags: {},
    agent: AGENT,
    modRevision: 10,
    leaseId: `lease-${name}`,
    ...over,
  };
}

/** A Patroni-written member key: no `agent` field. */
export function patroniMember(name: string, over: Partial<MemberView> = {}): MemberView {
  const { agent: _agent, ...rest } = member(name, over);
  return rest;
}

export function leaderKey(name: string, over: Partial<LeaderView> = {}): LeaderView {
  return { name, createRevision: 7, modRevision: 7, leaseId: `lease-${name}`, ...over };
}

export interface ClusterOverrides extends Partial<Omit<ClusterView, 'leader' | 'failover' | 'sync' | 'history'>> {
  /** A name (leader key held by that member's lease), a full LeaderView, or null (unlocked). */
  readonly leader?: string | LeaderView | null;
  readonly failover?: { leader?: string; member?: string; scheduledAt?: string; modRevision?: number } | null;
  readonly sync?: SyncState | null;
  readonly history?: readonly HistoryEntry[] | null;
}

export function cluster(over: ClusterOverrides = {}): ClusterView {
  const { leader = 'pg1', failover = null, sync = null, history = null, ...rest } = over;
  const leaderView = typeof leader === 'string' ? leaderKey(leader) : leader;
  let failoverView: ClusterView['failover'] = null;
  if (failover) {
    const { modRevision = 42, ...value } = failover;
    failoverView = { value, modRevision };
  }
  return {
    revision: 100,
    initialize: SYSID,
    config: { value: dynamicConfig(), modRevision: 3 },
    leader: leaderView,
    members: [member('pg1', { role: 'primary' }), member('pg2'), member('pg3')],
    failover: failoverView,
    sync: sync ? { value: sync, modRevision: 50 } : null,
    history: history ? { value: history, modRevision: 60 } : null,
    status: { optime: 5_000 },
    invalid: [],
    ...rest,
  };
}

export function control(over: Partial<ControlData> = {}): ControlData {
  return {
    systemIdentifier: SYSID,
    state: 'shut down in recovery',
    timeline: 1,
    checkpointLsn: 5_000,
    redoLsn: 4_900,
    minRecoveryEndLsn: 0,
    minRecoveryEndTimeline: 0,
    dataChecksums: true,
    ...over,
  };
}

function streamingFrom(leader: string): WalReceiver {
  return { status: 'streaming', senderHost: hostOf(leader), senderPort: 5432, receivedTimeline: 1, slotName: null };
}

const runningBase = {
  kind: 'running',
  dataDir: 'initialized',
  pid: 4242,
  timeline: 1,
  systemIdentifier: SYSID,
  serverVersion: 150007,
  postmasterStartTime: '2024-05-01T11:00:00.000Z',
  replayTimestamp: null,
  replayPaused: false,
  replication: [],
  pendingRestart: false,
} as const;

export const localPg = {
  /** A running writable primary at LSN 5000 on timeline 1. */
  primary(over: Partial<PgRunning> = {}): PgRunning {
    return {
      ...runningBase,
      control: control({ state: 'in production' }),
      standbySignal: false,
      inRecovery: false,
      currentLsn: 5_000,
      flushLsn: 5_000,
      receiveLsn: null,
      replayLsn: null,
      walReceiver: null,
      primaryConninfo: null,
      primarySlotName: null,
      ...over,
    };
  },
  /** A running replica at LSN 5000 streaming from `leader` (default pg1). */
  replica(over: Partial<PgRunning> & { leader?: string } = {}): PgRunning {
    const { leader = 'pg1', ...rest } = over;
    return {
      ...runningBase,
      control: control({ state: 'in archive recovery' }),
      standbySignal: true,
      inRecovery: true,
      currentLsn: null,
      flushLsn: null,
      receiveLsn: 5_000,
      replayLsn: 5_000,
      walReceiver: streamingFrom(leader),
      primaryConninfo: `host=${hostOf(leader)} port=5432 user=replicator application_name=self`,
      primarySlotName: 'self',
      ...rest,
    };
  },
  /** PostgreSQL stopped with an initialized data dir; control data says how it stopped. */
  down(over: Partial<PgDown> & { state?: ControlData['state'] } = {}): PgDown {
    const { state = 'shut down in recovery', ...rest } = over;
    return { kind: 'down', dataDir: 'initialized', control: control({ state }), standbySignal: state === 'shut down in recovery' || state === 'in archive recovery', ...rest };
  },
  /** No data directory (or an empty one): needs bootstrap or clone. */
  empty(): PgDown {
    return { kind: 'down', dataDir: 'empty', control: null, standbySignal: false };
  },
  unresponsive(over: Partial<PgUnresponsive> = {}): PgUnresponsive {
    return {
      kind: 'unresponsive',
      dataDir: 'initialized',
      control: control({ state: 'in production' }),
      standbySignal: false,
      pid: 4242,
      detail: 'observation query timed out after 2000 ms',
      ...over,
    };
  },
};

export function peer(name: string, over: Partial<Extract<PeerProbe, { reachable: true }>> = {}): PeerProbe {
  return {
    name,
    reachable: true,
    role: 'replica',
    running: true,
    walPosition: 5_000,
    timeline: 1,
    nofailover: false,
    failoverPriority: 1,
    streaming: true,
    ...over,
  };
}

peer.unreachable = (name: string, error = 'connect ECONNREFUSED'): PeerProbe => ({ name, reachable: false, error });

export function peers(...list: PeerProbe[]): ReadonlyMap<string, PeerProbe> {
  return new Map(list.map((p) => [p.name, p]));
}

export function running(spec: JobSpec, startedMs = NOW_MS - 1_000): RunningJob {
  return { spec, startedMs };
}

export function finished(spec: JobSpec, ok: boolean, error?: string): FinishedJob {
  return { spec, ok, finishedMs: NOW_MS - 10, ...(error === undefined ? {} : { error }) };
}

export function memory(over: Partial<Memory> = {}): Memory {
  return { ...EMPTY_MEMORY, ...over };
}

/**
 * Memory of a race whose former leader (named by the history entry for `historyTl`) was last seen
 * alive a minute ago (its last status put at `statusRev`): its deadline has passed, so the race is
 * judged on the members alone.
 */
export function formerLeaderLongGone(name: string, historyTl: number, statusRev = 0): Memory {
  return memory({
    leaderSeen: { name, activityMs: NOW_MS - 60_000, statusRev, memberRev: 0, keySeenMs: NOW_MS - 60_000, streaming: false, paused: false, historyTl },
  });
}

export interface InputOverrides extends Partial<Omit<DecideInput, 'self' | 'lease'>> {
  readonly name?: string;
  readonly tags?: Tags;
  readonly connUrl?: string;
  /** ms of lease left (negative: passed). Default 8000. */
  readonly leaseLeftMs?: number;
  readonly leaseId?: string | null;
}

/** Default: pg1, the leader of a healthy cluster, running as primary with 8 s of lease left. */
export function input(over: InputOverrides = {}): DecideInput {
  const { name = 'pg1', tags = {}, connUrl, leaseLeftMs = 8_000, leaseId, ...rest } = over;
  const nowMs = rest.nowMs ?? NOW_MS;
  return {
    self: { name, connUrl: connUrl ?? connUrlOf(name), tags, agent: AGENT },
    config: dynamicConfig(),
    cluster: cluster(),
    dcsError: null,
    lease: { leaseId: leaseId === undefined ? `lease-${name}` : leaseId, validUntilMs: nowMs + leaseLeftMs },
    local: localPg.primary(),
    fenced: false,
    peers: new Map(),
    job: null,
    memory: EMPTY_MEMORY,
    nowMs,
    wallNowMs: WALL_NOW_MS,
    ...rest,
  };
}

/** A replica's view (pg2 by default) of a cluster led by pg1. */
export function replicaInput(over: InputOverrides = {}): DecideInput {
  return input({ name: 'pg2', local: localPg.replica(), ...over });
}

/** No leader key: the view of a running replica (pg2 by default) during a leader race. */
export function raceInput(over: InputOverrides = {}): DecideInput {
  return input({
    name: 'pg2',
    local: localPg.replica(),
    cluster: cluster({ leader: null, members: [member('pg2'), member('pg3')] }),
    peers: peers(peer('pg3', { walPosition: 4_000 })),
    ...over,
  });
}

export const kinds = (d: Decision): string[] => d.actions.map((a) => a.kind);

export function action<K extends Action['kind']>(d: Decision, kind: K): Extract<Action, { kind: K }> {
  const found = d.actions.find((a) => a.kind === kind);
  if (!found) throw new Error(`no ${kind} action in [${kinds(d).join(', ')}]: ${d.reason}`);
  return found as Extract<Action, { kind: K }>;
}

export function jobOf(d: Decision): JobSpec {
  return action(d, 'startJob').job;
}
