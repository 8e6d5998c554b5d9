// Adapts the PostgreSQL controller (src/postgres) to the loop's PgPort.
import type { Logger } from 'pino';
import type { Config, DynamicConfig } from '../config/types.js';
import type { Clock } from '../core/clock.js';
import type { Lsn } from '../core/cluster.js';
import type { MemberRef } from '../core/decide-types.js';
import { parseLsn } from '../core/lsn.js';
import type { Runner } from '../exec/runner.js';
import type { PgPort } from '../loop/pg-port.js';
import { bootstrapPrimary } from './bootstrap.js';
import { cloneFrom } from './clone.js';
import type { UpstreamNode } from './upstream.js';
import { createControlDataReader, createPgObserver } from './observer.js';
import { moveDataDirAside, rejoinAsReplica } from './rejoin.js';
import { createSlotManager } from './slots.js';
import { createSqlConnection, localTarget } from './sql.js';
import { createPgSupervisor } from './supervisor.js';
import { setSyncStandbyNames } from './sync-standby-names.js';
import { pgPaths } from './paths.js';
import { writeTimelineFiles } from './timeline-files.js';

const upstream = (m: MemberRef): UpstreamNode => ({ host: m.host, port: m.port, name: m.name });

export function createPgAdapter(deps: {
  config: Config; logger: Logger; runner: Runner; clock: Clock; dynamic: () => DynamicConfig;
}): PgPort {
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

  /** One query on a peer's PostgreSQL (switchover checks), on a short-lived connection. */
  const peerQuery = async <T>(peer: MemberRef, text: string, signal?: AbortSignal): Promise<T[]> => {
    const remote = createSqlConnection({
      target: { ...localTarget(config), host: peer.host, port: peer.port },
      logger: log, timeoutMs: 1_000, applicationName: 'pg-ha-agent switchover',
    });
    try {
      return await remote.query<T>(text, [], signal ? { signal } : {});
    } finally {
      await remote.close();
    }
  };

  // The supervisor was made before the first etcd read (bootstrap.dcs only): every start renders
  // postgresql.conf from the cluster's config as etcd has it now (wal_level: logical next to a
  // logical slot, say), or PostgreSQL may refuse to start.
  const withClusterConfig = async (signal?: AbortSignal): Promise<void> => {
    await supervisor.updateConfig(deps.dynamic(), signal);
  };

  const started = async (p: Promise<string>, what: string): Promise<void> => {
    const outcome = await p;
    if (outcome === 'not-ready') throw new Error(`postgresql did not become ready after ${what}`);
  };

  return {
    observe: (signal) => observer.observe(signal),
    isFenced: () => supervisor.isFenced(),
    fence: async (reason) => {
      await supervisor.fence(reason);
    },
    clearFence: () => supervisor.clearFence(),
    promote: async (timeoutMs, signal) => (await supervisor.promote(timeoutMs, signal)).timeline,
    writeTimelineFiles: async (files) => {
      await writeTimelineFiles(pgPaths(config).walDir, files, log.child({ component: 'promotion' }));
    },
    follow: async (leader, signal) => {
      await supervisor.updateConfig(deps.dynamic(), signal);
      await supervisor.follow(upstream(leader), signal);
    },
    stop: (mode, timeoutMs, signal) => supervisor.stop({ mode, timeoutMs, ...(signal ? { signal } : {}) }),
    checkpoint: (signal) => supervisor.checkpoint(30_000, signal),
    controlData: () => controlData(),
    syncSlots: async (members, signal) => {
      if (!deps.dynamic().postgresql.use_slots) return;
      await slots.syncSlots({ members, graceMs: deps.dynamic().ttl * 1000 * 3, ...(signal ? { signal } : {}) });
    },
    peerReceiveLsn: async (peer, signal) => {
      const rows = await peerQuery<{ lsn: string | null }>(peer, 'SELECT pg_catalog.pg_last_wal_receive_lsn()::text AS lsn', signal);
      const text = rows[0]?.lsn;
      return text ? parseLsn(text) : null;
    },
    peerInRecovery: async (peer, signal) => {
      try {
        const rows = await peerQuery<{ r: boolean }>(peer, 'SELECT pg_catalog.pg_is_in_recovery() AS r', signal);
        return typeof rows[0]?.r === 'boolean' ? rows[0].r : null;
      } catch {
        return null;
      }
    },
    currentLsn: async (signal): Promise<Lsn | null> => {
      const rows = await sql.query<{ lsn: string | null }>('SELECT pg_catalog.pg_current_wal_lsn()::text AS lsn', [], signal ? { signal } : {});
      return rows[0]?.lsn ? parseLsn(rows[0].lsn) : null;
    },
    bootstrap: async (dynamic, signal) => {
      const r = await bootstrapPrimary({ config, dynamicConfig: dynamic, runner, logger: log.child({ component: 'bootstrap' }), supervisor, startTimeoutMs: startTimeoutMs(), ...(signal ? { signal } : {}) });
      return { systemId: r.systemIdentifier };
    },
    clone: async (source, signal) => {
      await cloneFrom({ config, runner, logger: log.child({ component: 'clone' }), source: upstream(source), leader: upstream(source), dynamicConfig: deps.dynamic(), ...(signal ? { signal } : {}) });
    },
    startPrimary: async (signal) => {
      await withClusterConfig(signal);
      await started(supervisor.start({ role: 'primary', timeoutMs: startTimeoutMs(), ...(signal ? { signal } : {}) }), 'start as primary');
    },
    startReplica: async (leader, signal) => {
      await withClusterConfig(signal);
      await started(supervisor.start({
        role: 'replica', timeoutMs: startTimeoutMs(), ...(leader ? { leader: upstream(leader) } : {}), ...(signal ? { signal } : {}),
      }), 'start as replica');
    },
    rejoin: async (leader, signal) => {
      await withClusterConfig(signal);
      // The rewind-failure policy (re-clone or stay stopped) is decide()'s, not the job's.
      const r = await rejoinAsReplica({
        config, runner, logger: log.child({ component: 'rejoin' }), supervisor, leader: upstream(leader), dynamicConfig: deps.dynamic(),
        startTimeoutMs: startTimeoutMs(), onRewindFailure: 'stay-stopped', ...(signal ? { signal } : {}),
      });
      if (r.outcome === 'failed') throw Object.assign(new Error(`rejoin failed: ${r.reason}`), { rewindFailed: true });
      return { rewound: r.outcome === 'rewound' };
    },
    setSyncStandbyNames: (value, signal) => setSyncStandbyNames(sql, value, signal ? { signal } : {}),
    applyDynamicConfig: async (dynamic, signal) => {
      await supervisor.updateConfig(dynamic, signal);
      await supervisor.reload(signal);
    },
    moveDataAside: (reason) => moveDataDirAside(config, log, reason, new Date(), 'reinit'),
    close: async () => {
      await Promise.allSettled([observer.close(), supervisor.close(), sql.close()]);
    },
  };
}
