// Adapts the PostgreSQL controller (src/postgres) to the loop's PgPort.
import type { Logger } from 'pino';
import type { Config, DynamicConfig } from '../config/types.js';
import type { Clock } from '../core/clock.js';
import type { Lsn } from '../core/cluster.js';
import type { MemberRef } from '../core/decide-types.js';
import { parseLsn } from '../core/lsn.js';
import type { Runner } from '../exec/runner.js';
import type { PgPort } from '../loop/pg-port.js';
import type { TimelineFile } from '../core/timeline-catchup.js';
import { bootstrapPrimary } from './bootstrap.js';
import { cloneFrom } from './clone.js';
import type { UpstreamNode } from './upstream.js';
import { createControlDataReader, createPgObserver } from './observer.js';
import type { PgObserver } from './observer.js';
import { moveDataDirAside, rejoinAsReplica } from './rejoin.js';
import { createSlotManager } from './slots.js';
import type { SlotManager } from './slots.js';
import { createSqlConnection, localTarget } from './sql.js';
import type { SqlConnection } from './sql.js';
import { createPgSupervisor } from './supervisor.js';
import type { PgSupervisor } from './supervisor.js';
import { setSyncStandbyNames } from './sync-standby-names.js';
import { pgPaths } from './paths.js';
import { writeTimelineFiles } from './timeline-files.js';
import { PgError } from './errors.js';

const upstream = (m: MemberRef): UpstreamNode => ({ host: m.host, port: m.port, name: m.name });

interface AdapterDeps {
  readonly config: Config; readonly logger: Logger; readonly runner: Runner; readonly clock: Clock; readonly dynamic: () => DynamicConfig;
}

export function createPgAdapter(deps: AdapterDeps): PgPort {
  const p = adapterParts(deps);
  const { supervisor } = p;
  return {
    observe: (signal) => p.observer.observe(signal),
    isFenced: () => supervisor.isFenced(),
    fence: async (reason) => { await supervisor.fence(reason); },
    clearFence: () => supervisor.clearFence(),
    promote: async (timeoutMs, signal) => (await supervisor.promote(timeoutMs, signal)).timeline,
    writeTimelineFiles: (files) => writeTimelines(p, files),
    follow: (leader, signal) => follow(p, leader, signal),
    stop: (mode, timeoutMs, signal) => supervisor.stop({ mode, timeoutMs, ...(signal ? { signal } : {}) }),
    checkpoint: (signal) => supervisor.checkpoint(30_000, signal),
    controlData: () => p.controlData(),
    syncSlots: (members, signal) => syncSlots(p, members, signal),
    peerReceiveLsn: (peer, signal) => peerReceiveLsn(p, peer, signal),
    peerInRecovery: (peer, signal) => peerInRecovery(p, peer, signal),
    currentLsn: (signal) => currentLsn(p.sql, signal),
    bootstrap: (dynamic, signal) => bootstrap(p, dynamic, signal),
    clone: (source, signal) => clone(p, source, signal),
    startPrimary: (signal) => startPrimary(p, signal),
    startReplica: (leader, signal) => startReplica(p, leader, signal),
    rejoin: (leader, signal) => rejoin(p, leader, signal),
    setSyncStandbyNames: (value, signal) => setSyncStandbyNames(p.sql, value, signal ? { signal } : {}),
    applyDynamicConfig: (dynamic, signal) => applyDynamicConfig(p, dynamic, signal),
    moveDataAside: (reason) => moveDataDirAside(p.config, p.log, reason, new Date(), 'reinit'),
    close: async () => { await Promise.allSettled([p.observer.close(), supervisor.close(), p.sql.close()]); },
  };
}

/** The controller's parts the adapter's operations share. */
interface AdapterParts {
  readonly config: Config;
  readonly runner: Runner;
  readonly log: Logger;
  readonly dynamic: () => DynamicConfig;
  readonly observer: PgObserver;
  readonly controlData: ReturnType<typeof createControlDataReader>;
  readonly supervisor: PgSupervisor;
  readonly sql: SqlConnection;
  readonly slots: SlotManager;
  readonly startTimeoutMs: () => number;
}

function adapterParts(deps: AdapterDeps): AdapterParts {
  const { config, runner } = deps;
  const log = deps.logger;
  const observer = createPgObserver({ config, logger: log.child({ component: 'observer' }), runner, timeoutMs: 3_000 });
  const controlData = createControlDataReader({ config, logger: log, runner, timeoutMs: 5_000 });
  // follow() runs on the tick: waiting there for the new leader's WAL sender (it may be down, as
  // a crashed leader that cannot start is) blinds the node to the key for that long. The next
  // ticks observe the receiver instead ("not streaming yet").
  const supervisor = createPgSupervisor({
    config, logger: log.child({ component: 'supervisor' }), runner, dynamicConfig: deps.dynamic(), followTimeoutMs: 0,
  });
  const sql = createSqlConnection({ target: localTarget(config), logger: log, timeoutMs: 3_000, applicationName: 'pg-ha-agent' });
  const slots = createSlotManager({ config, logger: log.child({ component: 'slots' }), sql, clock: deps.clock });
  const startTimeoutMs = () => Math.max(30_000, deps.dynamic().primary_start_timeout * 1000);
  return { config, runner, log, dynamic: deps.dynamic, observer, controlData, supervisor, sql, slots, startTimeoutMs };
}

/** One query on a peer's PostgreSQL (switchover checks), on a short-lived connection. */
async function peerQuery<T>(p: AdapterParts, peer: MemberRef, text: string, signal?: AbortSignal): Promise<T[]> {
  const remote = createSqlConnection({
    target: { ...localTarget(p.config), host: peer.host, port: peer.port },
    logger: p.log, timeoutMs: 1_000, applicationName: 'pg-ha-agent switchover',
  });
  try {
    return await remote.query<T>(text, [], signal ? { signal } : {});
  } finally {
    await remote.close();
  }
}

// The supervisor was made before the first etcd read (bootstrap.dcs only): every start renders
// postgresql.conf from the cluster's config as etcd has it now (wal_level: logical next to a
// logical slot, say), or PostgreSQL may refuse to start.
async function withClusterConfig(p: AdapterParts, signal?: AbortSignal): Promise<void> {
  await p.supervisor.updateConfig(p.dynamic(), signal);
}

async function started(p: Promise<string>, what: string): Promise<void> {
  const outcome = await p;
  if (outcome === 'not-ready') throw new Error(`postgresql did not become ready after ${what}`);
}

async function writeTimelines(p: AdapterParts, files: readonly TimelineFile[]): Promise<void> {
  await writeTimelineFiles(pgPaths(p.config).walDir, files, p.log.child({ component: 'promotion' }));
}

async function follow(p: AdapterParts, leader: MemberRef, signal?: AbortSignal): Promise<void> {
  await p.supervisor.updateConfig(p.dynamic(), signal);
  await p.supervisor.follow(upstream(leader), signal);
}

async function syncSlots(p: AdapterParts, members: readonly string[], signal?: AbortSignal): Promise<void> {
  if (!p.dynamic().postgresql.use_slots) return;
  await p.slots.syncSlots({ members, graceMs: p.dynamic().ttl * 1000 * 3, ...(signal ? { signal } : {}) });
}

async function peerReceiveLsn(p: AdapterParts, peer: MemberRef, signal?: AbortSignal): Promise<Lsn | null> {
  const rows = await peerQuery<{ lsn: string | null }>(p, peer, 'SELECT pg_catalog.pg_last_wal_receive_lsn()::text AS lsn', signal);
  const text = rows[0]?.lsn;
  return text ? parseLsn(text) : null;
}

async function peerInRecovery(p: AdapterParts, peer: MemberRef, signal?: AbortSignal): Promise<boolean | null> {
  try {
    const rows = await peerQuery<{ r: boolean }>(p, peer, 'SELECT pg_catalog.pg_is_in_recovery() AS r', signal);
    return typeof rows[0]?.r === 'boolean' ? rows[0].r : null;
  } catch {
    return null;
  }
}

async function currentLsn(sql: SqlConnection, signal?: AbortSignal): Promise<Lsn | null> {
  const rows = await sql.query<{ lsn: string | null }>('SELECT pg_catalog.pg_current_wal_lsn()::text AS lsn', [], signal ? { signal } : {});
  return rows[0]?.lsn ? parseLsn(rows[0].lsn) : null;
}

async function bootstrap(p: AdapterParts, dynamic: DynamicConfig, signal?: AbortSignal): Promise<{ systemId: string }> {
  const { config, runner, log, supervisor } = p;
  const r = await bootstrapPrimary({ config, dynamicConfig: dynamic, runner, logger: log.child({ component: 'bootstrap' }), supervisor, startTimeoutMs: p.startTimeoutMs(), ...(signal ? { signal } : {}) });
  return { systemId: r.systemIdentifier };
}

async function clone(p: AdapterParts, source: MemberRef, signal?: AbortSignal): Promise<void> {
  const { config, runner, log } = p;
  await cloneFrom({ config, runner, logger: log.child({ component: 'clone' }), source: upstream(source), leader: upstream(source), dynamicConfig: p.dynamic(), ...(signal ? { signal } : {}) });
}

async function startPrimary(p: AdapterParts, signal?: AbortSignal): Promise<void> {
  await withClusterConfig(p, signal);
  await started(p.supervisor.start({ role: 'primary', timeoutMs: p.startTimeoutMs(), ...(signal ? { signal } : {}) }), 'start as primary');
}

async function startReplica(p: AdapterParts, leader: MemberRef | null, signal?: AbortSignal): Promise<void> {
  await withClusterConfig(p, signal);
  await started(p.supervisor.start({
    role: 'replica', timeoutMs: p.startTimeoutMs(), ...(leader ? { leader: upstream(leader) } : {}), ...(signal ? { signal } : {}),
  }), 'start as replica');
}

async function rejoin(p: AdapterParts, leader: MemberRef, signal?: AbortSignal): Promise<{ rewound: boolean }> {
  const { config, runner, log, supervisor } = p;
  await withClusterConfig(p, signal);
  // The rewind-failure policy (re-clone or stay stopped) is decide()'s, not the job's.
  const r = await rejoinAsReplica({
    config, runner, logger: log.child({ component: 'rejoin' }), supervisor, leader: upstream(leader), dynamicConfig: p.dynamic(),
    startTimeoutMs: p.startTimeoutMs(), onRewindFailure: 'stay-stopped', ...(signal ? { signal } : {}),
  });
  if (r.outcome === 'failed') throw new PgError('rewind-verdict', `rejoin failed: ${r.reason}`, { retryable: false });
  return { rewound: r.outcome === 'rewound' };
}

async function applyDynamicConfig(p: AdapterParts, dynamic: DynamicConfig, signal?: AbortSignal): Promise<void> {
  await p.supervisor.updateConfig(dynamic, signal);
  await p.supervisor.reload(signal);
}
