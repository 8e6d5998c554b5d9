// S1 on real processes (simulator seed 455): the tick decides "start PostgreSQL as primary" with
// the key proven, the executor reaches the start seconds later, and by then the leader key is gone
// (a replica may have promoted). The job reads the key once more and must not start PostgreSQL.
// Wired as src/loop/compose.ts wires the agent: the real etcd Dcs, the real PostgreSQL adapter
// (its commands run as postgres, as the agent does), callbacks, the job runner. The Dcs's watch is
// never started, so nothing but the job's own read can notice the delete.
import { existsSync } from 'node:fs';
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
import {
  CommandError, etcdctl, freePort, makeEmptyDataDir, pgBinary, runCommand, startEtcd, trackProcess, type EtcdCluster,
} from '../harness/index.js';
import { etcd3Config } from '../support/dcs-env.js';
import { testConfig, testDynamicConfig } from '../unit/postgres/fixtures.js';
import { TEST_HBA, TEST_PARAMETERS, makeLogger, queryAs, readLog } from './postgres-helpers.js';

const SCOPE = 'keycheck';
let etcd: EtcdCluster;
let config: Config;
let dynamic: DynamicConfig = { ...testDynamicConfig(), ttl: 30 };
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
  trackProcess({ pid, name: 'postgres-keycheck', kind: 'postgres', stopSignal: 'SIGQUIT', argv: ['postgres', '-D', config.postgresql.data_dir] });
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

/** pg_ctl status: 0 running, 3 not running. */
async function pgCtlStatus(): Promise<number | null> {
  try {
    await runCommand(pgBinary('pg_ctl'), ['status', '-D', config.postgresql.data_dir], { user: 'postgres', timeoutMs: 10_000 });
    return 0;
  } catch (err) {
    if (err instanceof CommandError) return err.exitCode;
    throw err;
  }
}

const query = <T = Record<string, unknown>>(sql: string): Promise<T[]> =>
  queryAs<T>(config.postgresql.listen.port, 'postgres', 'su-secret', sql);

async function stopPostgres(): Promise<void> {
  await pg.stop('fast', 30_000);
  expect(await pgCtlStatus()).toBe(3);
}

beforeAll(async () => {
  ({ logger, file: logFile } = await makeLogger());
  etcd = await startEtcd();
  const dataDir = await makeEmptyDataDir('pgha-keycheck');
  const base = dirname(dataDir);
  const port = await freePort();
  config = {
    ...testConfig({
      name: 'keycheck1', dataDir, port, pgpass: join(base, 'pgpass'),
      postgresql: { pg_hba: TEST_HBA, parameters: { ...TEST_PARAMETERS, unix_socket_directories: base } },
    }),
    scope: SCOPE,
    etcd3: etcd3Config(etcd.endpoints),
  };
  // As composeAgent does; the runner runs PostgreSQL's tools as postgres (the agent runs as postgres).
  dcs = createEtcdDcs({ config, ttlSec: dynamic.ttl, retryTimeoutSec: dynamic.retry_timeout, clock: systemClock, logger, reattachableLease: null });
  const runner = createExecaRunner({ logger, runAsUser: 'postgres' });
  const bare = createPgAdapter({ config, logger: logger.child({ component: 'postgres' }), runner, clock: systemClock, dynamic: () => dynamic });
  const callbacks = createCallbackExecutor({ commands: () => config.postgresql.callbacks, scope: () => config.scope, runner, logger });
  pg = withCallbacks(bare, callbacks);
  jobs = createJobRunner({
    selfName: config.name, pg, dcs, clock: systemClock, logger: logger.child({ component: 'jobs' }),
    dynamicConfig: () => dynamic, peerHttp: createPeerHttp(() => config.restapi), onFinished: () => undefined,
  });
  // The node leads: the key acquired through the Dcs (proven), the cluster bootstrapped, then stopped.
  expect(await dcs.acquireLeader()).toBe(true);
  const boot = await runJob({ kind: 'bootstrap' });
  expect(boot, readLog(logFile).slice(-3000)).toMatchObject({ ok: true });
  await stopPostgres();
});

afterAll(async () => {
  console.info(`start-key-check figures (ms): ${JSON.stringify(figures)}`);
  await pg?.close();
  await dcs?.close();
});

describe('a writable start reads the leader key first (real etcd, real PostgreSQL)', () => {
  it('the key deleted behind the Dcs\'s back: startPrimary fails, retryable, and no postmaster runs', async () => {
    await deleteLeaderKey();
    expect(dcs.leadership(), 'the Dcs must still believe it leads (nothing watched the delete)').not.toBeNull();
    const t0 = performance.now();
    const r = await runJob({ kind: 'startPrimary' });
    figures['refusedStartMs'] = Math.round(performance.now() - t0);
    expect(r).toMatchObject({ ok: false, retryable: true });
    expect(r.error).toContain('the leader key is no longer ours');
    expect(existsSync(join(config.postgresql.data_dir, 'postmaster.pid'))).toBe(false);
    expect(await pgCtlStatus()).toBe(3);
    await expect(query('SELECT 1')).rejects.toThrow(/ECONNREFUSED/);
    // The read ended the Dcs's leadership, so the fence and the next tick see it too.
    expect(dcs.leadership()).toBeNull();
  });

  it('control: with the key ours, startPrimary starts PostgreSQL and it accepts a write', async () => {
    expect(await dcs.acquireLeader()).toBe(true);
    const t0 = performance.now();
    const r = await runJob({ kind: 'startPrimary' });
    figures['startPrimaryMs'] = Math.round(performance.now() - t0);
    expect(r, readLog(logFile).slice(-3000)).toMatchObject({ ok: true });
    expect((await query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r'))[0]?.r).toBe(false);
    await query('CREATE TABLE keycheck (v int); INSERT INTO keycheck VALUES (1)');
    expect(await query('SELECT v FROM keycheck')).toEqual([{ v: 1 }]);
    await stopPostgres();
  });

  it('in pause the operator runs PostgreSQL: the key deleted, startPrimary starts it anyway', async () => {
    dynamic = { ...dynamic, pause: true };
    try {
      await deleteLeaderKey();
      const r = await runJob({ kind: 'startPrimary' });
      expect(r, readLog(logFile).slice(-3000)).toMatchObject({ ok: true });
      expect((await query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r'))[0]?.r).toBe(false);
      await query('INSERT INTO keycheck VALUES (2)');
      await stopPostgres();
    } finally {
      dynamic = { ...dynamic, pause: false };
    }
  });

  it('restart as primary with the key deleted meanwhile: PostgreSQL is stopped and not started again', async () => {
    expect(await dcs.acquireLeader()).toBe(true);
    expect(await runJob({ kind: 'startPrimary' })).toMatchObject({ ok: true });
    await deleteLeaderKey();
    const r = await runJob({ kind: 'restart', role: 'primary', leader: null });
    expect(r).toMatchObject({ ok: false, retryable: true });
    expect(r.error).toContain('the leader key is no longer ours');
    expect(await pgCtlStatus()).toBe(3);
    await expect(query('SELECT 1')).rejects.toThrow(/ECONNREFUSED/);
  });
});
