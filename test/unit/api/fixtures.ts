// Builders for REST API tests: a full Config, LocalPg observations, status snapshots for the
// scenarios the route tests cover, and a fake etcd cluster (test/support/fakes/fake-dcs.ts) with three members.
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { Logger } from 'pino';
import type { FastifyInstance } from 'fastify';
import type { Config, DynamicConfig, RestApiConfig, Tags } from '../../../src/config/types.js';
import type { ClusterView, MemberStatus } from '../../../src/core/cluster.js';
import type { LocalPg, PgRunning } from '../../../src/core/local-pg.js';
import { FakeClock } from '../../support/fakes/fake-clock.js';
import type { FakeDcs } from '../../support/fakes/fake-dcs.js';
import { createFakeDcs } from '../../support/fakes/fake-dcs.js';
import { FakeEtcdStore } from '../../support/fakes/fake-store.js';
import type { ApiDeps } from '../../../src/api/server.js';
import { buildServer } from '../../../src/api/server.js';
import { emptyCounters, recordTick } from '../../../src/obs/metrics.js';
import type { StatusInputs, StatusSnapshot } from '../../../src/obs/status.js';
import { buildStatusSnapshot } from '../../../src/obs/status.js';

export const SCOPE = 'demo';
export const MB = 1024 * 1024;
/** The leader's published optime in every scenario. */
export const LEADER_OPTIME = 0x5000000;

export const DYNAMIC: DynamicConfig = {
  ttl: 30,
  loop_wait: 10,
  retry_timeout: 10,
  maximum_lag_on_failover: MB,
  maximum_lag_on_syncnode: -1,
  primary_start_timeout: 300,
  primary_stop_timeout: 0,
  synchronous_mode: false,
  synchronous_mode_strict: false,
  synchronous_node_count: 1,
  failsafe_mode: false,
  check_timeline: false,
  pause: false,
  postgresql: { use_pg_rewind: true, use_slots: true, parameters: { max_connections: 100 } },
};

export function testConfig(name = 'a', restapi: Partial<RestApiConfig> = {}, tags: Tags = {}): Config {
  return {
    scope: SCOPE,
    namespace: '/service/',
    name,
    log: { level: 'info' },
    restapi: {
      listen: { host: '127.0.0.1', port: 8008 },
      connect_address: { host: '127.0.0.1', port: 8008 },
      allowlist: [],
      ...restapi,
    },
    etcd3: { hosts: [{ host: '127.0.0.1', port: 2379 }], protocol: 'http' },
    bootstrap: { dcs: DYNAMIC, initdb: [], pg_hba: [] },
    postgresql: {
      listen: { addresses: '127.0.0.1', port: 5432 },
      connect_address: { host: '127.0.0.1', port: 5432 },
      data_dir: '/tmp/none',
      config_dir: '/tmp/none',
      bin_dir: '/usr/lib/postgresql/15/bin',
      pgpass: '/tmp/pgpass',
      authentication: { superuser: { username: 'postgres' }, replication: { username: 'replicator' } },
      parameters: {},
      pg_hba: [],
      callbacks: {},
      use_pg_rewind: true,
      remove_data_directory_on_rewind_failure: false,
      create_replica_methods: ['basebackup'],
      basebackup: [],
    },
    tags,
    watchdog: { mode: 'off', device: '/dev/watchdog', safety_margin: 5 },
    configFile: '/tmp/none/config.yml',
  };
}

export function primaryPg(over: Partial<PgRunning> = {}): PgRunning {
  return {
    kind: 'running',
    dataDir: 'initialized',
    control: null,
    standbySignal: false,
    pid: 4242,
    inRecovery: false,
    timeline: 2,
    systemIdentifier: '7300000000000000001',
    serverVersion: 150004,
    postmasterStartTime: '2026-01-01T00:00:00.000Z',
    currentLsn: LEADER_OPTIME,
    flushLsn: LEADER_OPTIME,
    receiveLsn: null,
    replayLsn: null,
    replayTimestamp: null,
    replayPaused: false,
    walReceiver: null,
    replication: [{
      applicationName: 'b', clientAddr: '127.0.0.1', state: 'streaming', syncState: 'async',
      sentLsn: LEADER_OPTIME, writeLsn: LEADER_OPTIME, flushLsn: LEADER_OPTIME, replayLsn: LEADER_OPTIME,
    }],
    pendingRestart: false,
    primaryConninfo: null,
    primarySlotName: null,
    ...over,
  };
}

export function replicaPg(streaming: boolean, behindBytes = 0, over: Partial<PgRunning> = {}): PgRunning {
  const pos = LEADER_OPTIME - behindBytes;
  return primaryPg({
    standbySignal: true,
    inRecovery: true,
    currentLsn: null,
    flushLsn: null,
    receiveLsn: pos,
    replayLsn: pos,
    replayTimestamp: '2026-01-01T00:00:30.000Z',
    walReceiver: streaming
      ? { status: 'streaming', senderHost: '127.0.0.1', senderPort: 5432, receivedTimeline: 2, slotName: 'b' }
      : null,
    replication: [],
    ...over,
  });
}

export function stoppedPg(standby: boolean): LocalPg {
  return {
    kind: 'down',
    dataDir: 'initialized',
    standbySignal: standby,
    control: {
      systemIdentifier: '7300000000000000001',
      state: standby ? 'shut down in recovery' : 'shut down',
      timeline: 2,
      checkpointLsn: LEADER_OPTIME - 4096,
      redoLsn: LEADER_OPTIME - 4096,
      minRecoveryEndLsn: 0,
      minRecoveryEndTimeline: 0,
      dataChecksums: true,
    },
  };
}

/** A cluster view as etcd would show it: leader `leader` (null: unlocked), optime published. */
export function clusterView(leader: string | null, over: Partial<ClusterView> = {}): ClusterView {
  return {
    revision: 100,
    initialize: '7300000000000000001',
    config: { value: DYNAMIC, modRevision: 5 },
    leader: leader === null ? null : { name: leader, createRevision: 42, modRevision: 42, leaseId: '7' },
    members: [],
    failover: null,
    sync: null,
    history: { value: [{ timeline: 1, switchLsn: 0x3000000, reason: 'no recovery target specified', timestamp: '2026-01-01T00:00:00+00:00', newLeader: 'a' }], modRevision: 9 },
    status: { optime: LEADER_OPTIME },
    invalid: [],
    ...over,
  };
}

export function snapshot(clock: FakeClock, over: Partial<StatusInputs> & Pick<StatusInputs, 'local'>): StatusSnapshot {
  const base: StatusInputs = {
    name: 'a',
    scope: SCOPE,
    agentVersion: '0.1.0',
    local: over.local,
    cluster: clusterView('a'),
    dcsOk: true,
    dcsLastSeenWallMs: clock.wallNowMs(),
    holdsLeader: false,
    leaseValidUntilMs: Number.NEGATIVE_INFINITY,
    dynamic: DYNAMIC,
    tags: {},
    lastDecision: { reason: 'no action: healthy', actions: [] },
    tickMonoMs: clock.monoMs(),
    counters: recordTick(emptyCounters(), { durationMs: 3, actionKinds: ['renew_leader'] }),
  };
  return buildStatusSnapshot({ ...base, ...over });
}

export type ScenarioName =
  | 'leader'
  | 'replica streaming'
  | 'replica not streaming'
  | 'replica lagging'
  | 'postgres stopped'
  | 'leader postgres stopped'
  | 'lease expired'
  | 'paused';

/** The node's published status in each scenario of the route matrix. */
export function scenario(name: ScenarioName, clock: FakeClock): StatusSnapshot {
  const now = clock.monoMs();
  const leaderLease = { holdsLeader: true, leaseValidUntilMs: now + 20_000 };
  switch (name) {
    case 'leader':
      return snapshot(clock, { local: primaryPg(), ...leaderLease });
    case 'replica streaming':
      return snapshot(clock, { name: 'b', local: replicaPg(true, 1024) });
    case 'replica not streaming':
      return snapshot(clock, { name: 'b', local: replicaPg(false, 1024) });
    case 'replica lagging':
      return snapshot(clock, { name: 'b', local: replicaPg(true, 64 * MB) });
    case 'postgres stopped':
      return snapshot(clock, { name: 'b', local: stoppedPg(true) });
    case 'leader postgres stopped':
      return snapshot(clock, { local: stoppedPg(false), ...leaderLease });
    case 'lease expired':
      // Valid at the last tick, expired since: the health path must see it without a new tick.
      return snapshot(clock, { local: primaryPg(), holdsLeader: true, leaseValidUntilMs: now - 1 });
    case 'paused':
      // Paused, etcd unreachable, lease gone, loop stalled for 10 minutes: nothing fences in pause.
      return snapshot(clock, {
        local: primaryPg(),
        dcsOk: false,
        holdsLeader: true,
        leaseValidUntilMs: now - 5_000,
        dynamic: { ...DYNAMIC, pause: true },
        tickMonoMs: now - 600_000,
      });
    default: {
      const never: never = name;
      return never;
    }
  }
}

/** A logger whose JSON lines are kept, so tests can assert what is (not) logged. */
export function captureLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  return { logger: pino({ level: 'debug' }, sink), lines };
}

export function memberStatus(name: string, over: Partial<MemberStatus> = {}): MemberStatus {
  const port = { a: 5432, b: 5433, c: 5434 }[name] ?? 5435;
  return {
    name,
    connUrl: `postgres://127.0.0.1:${port}/postgres`,
    apiUrl: `http://127.0.0.1:${port + 2576}/patroni`,
    state: 'running',
    role: 'replica',
    xlogLocation: LEADER_OPTIME - 100,
    receiveLsn: LEADER_OPTIME - 100,
    replayLsn: LEADER_OPTIME - 100,
    timeline: 2,
    replicationState: 'streaming',
    tags: {},
    agent: 'pg-ha-agent/0.1.0',
    ...over,
  };
}

export interface FakeCluster {
  readonly clock: FakeClock;
  readonly store: FakeEtcdStore;
  readonly nodes: Readonly<Record<'a' | 'b' | 'c', FakeDcs>>;
}

/** Three members in a fake etcd: a is the leader, b and c streaming replicas. */
export async function fakeCluster(opts: { cTags?: Tags; bStatus?: Partial<MemberStatus> } = {}): Promise<FakeCluster> {
  const clock = new FakeClock();
  const store = new FakeEtcdStore(clock);
  const make = (name: string): FakeDcs => createFakeDcs({ scope: SCOPE, name, ttlSec: 30, clock, store });
  const nodes = { a: make('a'), b: make('b'), c: make('c') };
  const { replicationState: _unused, ...leaderStatus } = memberStatus('a', { role: 'primary', xlogLocation: LEADER_OPTIME });
  await nodes.a.touchMember(leaderStatus);
  await nodes.b.touchMember(memberStatus('b', opts.bStatus ?? {}));
  await nodes.c.touchMember(memberStatus('c', { tags: opts.cTags ?? {} }));
  if (!(await nodes.a.acquireLeader())) throw new Error('fixture: a could not take the leader key');
  await nodes.a.setConfig(DYNAMIC, 0);
  await nodes.a.setStatus({ optime: LEADER_OPTIME });
  await nodes.a.appendHistory({ timeline: 1, switchLsn: 0x3000000, reason: 'no recovery target specified', timestamp: '2026-01-01T00:00:00+00:00', newLeader: 'a' });
  return { clock, store, nodes };
}

export interface TestApi {
  readonly app: FastifyInstance;
  status: StatusSnapshot;
  readonly lines: string[];
}

/** buildServer over a mutable published status; extra deps override the defaults. */
export function testApi(base: Omit<ApiDeps, 'getStatus' | 'logger'> & { status: StatusSnapshot }): TestApi {
  const { logger, lines } = captureLogger();
  const holder: TestApi = {
    app: undefined as unknown as FastifyInstance,
    status: base.status,
    lines,
  };
  const { status: _status, ...deps } = base;
  const app = buildServer({ ...deps, logger, getStatus: () => holder.status });
  return Object.assign(holder, { app });
}
