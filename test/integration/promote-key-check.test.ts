// A promotion on real processes whose leader key is lost after the take: the tick took the key and
// started the promote job, then the key was deleted (or its lease revoked) before pg_promote ran. A
// PostgreSQL still in recovery is not fenced on a loss, so only the job's own read of the key
// before pg_promote keeps this node from becoming writable without the key.
// Wired as src/loop/compose.ts wires the agent (as start-key-check.test.ts): the real etcd Dcs, the
// real PostgreSQL adapter (its commands run as postgres), callbacks, the job runner. The Dcs's
// watch is never started, so nothing but the job's own read can notice the delete.
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config, DynamicConfig } from '../../src/config/types.js';
import { createEtcdDcs, type EtcdDcs } from '../../src/dcs/etcd-dcs.js';
import { createExecaRunner } from '../../src/exec/runner.js';
import { systemClock } from '../../src/time/clock.js';
import { createJobRunner, type JobRunner } from '../../src/loop/jobs.js';
import { createPeerHttp } from '../../src/loop/peer-http.js';
import type { PgPort } from '../../src/loop/pg-port.js';
import { createCallbackExecutor } from '../../src/postgres/callbacks.js';
import { readPostmasterPidSync } from '../../src/postgres/files.js';
import { createPgAdapter } from '../../src/postgres/pg-adapter.js';
import { withCallbacks } from '../../src/postgres/pg-callbacks.js';
import { etcdctl, freePort, makeEmptyDataDir, startEtcd, trackProcess, type EtcdCluster } from '../harness/index.js';
import { etcd3Config } from '../support/dcs-env.js';
import { testConfig, testDynamicConfig } from '../unit/postgres/fixtures.js';
import { TEST_HBA, TEST_PARAMETERS, makeLogger, queryAs, readLog } from './postgres-helpers.js';

const SCOPE = 'promkey';
let etcd: EtcdCluster;
let config: Config;
const dynamic: DynamicConfig = { ...testDynamicConfig(), ttl: 30 };
let logger: Logger;
let logFile: string;
let dcs: EtcdDcs;
let pg: PgPort;
let jobs: JobRunner;
const tracked = new Set<number>();
const figures: Record<string, number> = {};

/** Whatever postmaster runs on the data dir now is stopped by the harness at teardown. */
function trackPostmaster(): void {
  const pid = readPostmasterPidSync(join(config.postgresql.data_dir, 'postmaster.pid'));
  if (pid === null || tracked.has(pid)) return;
  tracked.add(pid);
  trackProcess({ pid, name: 'postgres-promkey', kind: 'postgres', stopSignal: 'SIGQUIT', argv: ['postgres', '-D', config.postgresql.data_dir] });
}

async function runJob(spec: Parameters<JobRunner['start']>[0]): Promise<Awaited<ReturnType<JobRunner['start']>>> {
  try {
    return await jobs.start(spec);
  } finally {
    trackPostmaster();
  }
}

async function deleteLeaderKey(): Promise<void> {
  await etcdctl(etcd, ['del', `/service/${SCOPE}/leader`]);
  expect(await etcdctl(etcd, ['get', `/service/${SCOPE}/leader`])).toBe('');
}

/** The history key's timelines (Patroni's layout: [[timeline, lsn, reason, timestamp, leader], ...]). */
async function historyTimelines(): Promise<number[]> {
  const raw = (await etcdctl(etcd, ['get', `/service/${SCOPE}/history`, '--print-value-only'])).trim();
  if (raw === '') return [];
  return (JSON.parse(raw) as unknown[][]).map((e) => Number(e[0]));
}

const query = <T = Record<string, unknown>>(sql: string): Promise<T[]> =>
  queryAs<T>(config.postgresql.listen.port, 'postgres', 'su-secret', sql);

async function inRecovery(): Promise<boolean | undefined> {
  return (await query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r'))[0]?.r;
}

/** The standby's timeline and replay position: what a promote job's spec carries. */
async function standbyPosition(): Promise<{ timeline: number; lsn: number }> {
  const rows = await query<{ tl: number; l: string }>(
    "SELECT (SELECT timeline_id FROM pg_control_checkpoint()) AS tl, (pg_last_wal_replay_lsn() - '0/0')::text AS l");
  const row = rows[0];
  if (!row) throw new Error('no row from the standby');
  return { timeline: Number(row.tl), lsn: Number(row.l) };
}

/** The timeline a primary writes on, from its current WAL file's name. */
async function primaryTimeline(): Promise<number> {
  const rows = await query<{ f: string }>('SELECT pg_walfile_name(pg_current_wal_lsn()) AS f');
  return Number.parseInt((rows[0]?.f ?? '').slice(0, 8), 16);
}

beforeAll(async () => {
  ({ logger, file: logFile } = await makeLogger());
  etcd = await startEtcd();
  const dataDir = await makeEmptyDataDir('pgha-promkey');
  const base = dirname(dataDir);
  const port = await freePort();
  config = {
    ...testConfig({
      name: 'promkey1', dataDir, port, pgpass: join(base, 'pgpass'),
      postgresql: { pg_hba: TEST_HBA, parameters: { ...TEST_PARAMETERS, unix_socket_directories: base } },
    }),
    scope: SCOPE,
    etcd3: etcd3Config(etcd.endpoints),
  };
  dcs = createEtcdDcs({ config, ttlSec: dynamic.ttl, retryTimeoutSec: dynamic.retry_timeout, clock: systemClock, logger, reattachableLease: null });
  const runner = createExecaRunner({ logger, runAsUser: 'postgres' });
  const bare = createPgAdapter({ config, logger: logger.child({ component: 'postgres' }), runner, clock: systemClock, dynamic: () => dynamic });
  const callbacks = createCallbackExecutor({ commands: () => config.postgresql.callbacks, scope: () => config.scope, runner, logger });
  pg = withCallbacks(bare, callbacks);
  jobs = createJobRunner({
    selfName: config.name, pg, dcs, clock: systemClock, logger: logger.child({ component: 'jobs' }),
    dynamicConfig: () => dynamic, peerHttp: createPeerHttp(() => config.restapi), onFinished: () => undefined,
  });
  // The node leads (the key acquired through the Dcs, proven); the cluster bootstrapped, stopped,
  // and started again as a standby with no upstream: a PostgreSQL in recovery the job may promote.
  expect(await dcs.acquireLeader()).toBe(true);
  expect(await runJob({ kind: 'bootstrap' }), readLog(logFile).slice(-3000)).toMatchObject({ ok: true });
  await pg.stop('fast', 30_000);
  expect(await runJob({ kind: 'startReplica', leader: null }), readLog(logFile).slice(-3000)).toMatchObject({ ok: true });
  expect(await inRecovery()).toBe(true);
});

afterAll(async () => {
  console.info(`promote-key-check figures (ms): ${JSON.stringify(figures)}`);
  await pg?.stop('fast', 30_000).catch(() => undefined);
  await pg?.close();
  await dcs?.close();
});

describe('a promotion reads the leader key right before pg_promote (real etcd, real PostgreSQL)', () => {
  it('the key deleted behind the Dcs\'s back: the promote job fails at stage leadership and PostgreSQL stays in recovery', async () => {
    const { timeline, lsn } = await standbyPosition();
    await deleteLeaderKey();
    expect(dcs.leadership(), 'the Dcs must still believe it leads (nothing watched the delete)').not.toBeNull();
    const t0 = performance.now();
    const r = await runJob({ kind: 'promote', oldTimeline: timeline, switchLsn: lsn, reason: 'test' });
    figures['refusedPromoteMs'] = Math.round(performance.now() - t0);
    expect(r, 'the promote job must be refused: the leader key is gone').toMatchObject({ ok: false, stage: 'leadership' });
    expect(r.error).toBe('the leader key is no longer ours: not promoting');
    expect(await inRecovery()).toBe(true);
    await expect(query('CREATE TABLE promkey (v int)')).rejects.toThrow(/read-only transaction/);
    // The history entry comes first by design (S4: a promotion etcd does not know about would let a
    // later one reuse the timeline number), so it is written even though the promotion is refused.
    expect(await historyTimelines()).toContain(timeline);
    // The read ended the Dcs's leadership, so the fence and the next tick see it too.
    expect(dcs.leadership()).toBeNull();
  });

  it('control: with the key ours, the promote job leaves recovery, accepts a write, timeline + 1', async () => {
    expect(await dcs.acquireLeader()).toBe(true);
    const { timeline, lsn } = await standbyPosition();
    const t0 = performance.now();
    const r = await runJob({ kind: 'promote', oldTimeline: timeline, switchLsn: lsn, reason: 'test' });
    figures['promoteMs'] = Math.round(performance.now() - t0);
    expect(r, readLog(logFile).slice(-3000)).toMatchObject({ ok: true });
    expect(await inRecovery()).toBe(false);
    await query('CREATE TABLE promkey (v int); INSERT INTO promkey VALUES (1)');
    expect(await query('SELECT v FROM promkey')).toEqual([{ v: 1 }]);
    expect(await primaryTimeline()).toBe(timeline + 1);
    expect(await historyTimelines()).toContain(timeline);
  });
});
