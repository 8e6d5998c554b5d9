// The PostgreSQL controller against real PostgreSQL 15: bootstrap + clone into a primary and two
// streaming replicas; remaster a replica without restart; fence; rewind a diverged old primary.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Logger } from 'pino';
import type { PgRunning } from '../../src/core/local-pg.js';
import type { Clock } from '../../src/core/clock.js';
import { bootstrapPrimary } from '../../src/postgres/bootstrap.js';
import { cloneFrom } from '../../src/postgres/clone.js';
import { PgError } from '../../src/postgres/errors.js';
import { rejoinAsReplica } from '../../src/postgres/rejoin.js';
import { LeaderNotPrimaryError, leaderTimelineWhenPrimary } from '../../src/postgres/rewind.js';
import { createSlotManager } from '../../src/postgres/slots.js';
import { createSqlConnection, localTarget } from '../../src/postgres/sql.js';
import { createWalNow } from '../../src/postgres/wal-now.js';
import { waitFor } from '../harness/index.js';
import { testDynamicConfig } from '../unit/postgres/fixtures.js';
import { SECRETS, makeLogger, makeNode, queryAs, readLog } from './postgres-helpers.js';
import type { TestNode } from './postgres-helpers.js';

const systemClock: Clock = { monoMs: () => performance.now(), wallNowMs: () => Date.now() };
const timings: Record<string, number> = {};
let logger: Logger;
let logFile: string;
let a: TestNode;
let b: TestNode;
let c: TestNode;

async function running(node: TestNode): Promise<PgRunning> {
  const pg = await node.observer.observe();
  if (pg.kind !== 'running') throw new Error(`${node.name} is ${pg.kind}`);
  return pg;
}

async function syncSlots(primary: TestNode, members: string[]): Promise<void> {
  const sql = createSqlConnection({ target: localTarget(primary.config), logger, timeoutMs: 5000 });
  try {
    await createSlotManager({ config: primary.config, logger, sql, clock: systemClock }).syncSlots({ members, graceMs: 60_000 });
  } finally {
    await sql.close();
  }
}

/** Wait until `replica` streams from `primary` and has replayed everything the primary wrote. */
async function caughtUp(replica: TestNode, primary: TestNode): Promise<void> {
  const target = (await running(primary)).currentLsn ?? Infinity;
  await waitFor(`${replica.name} to stream from ${primary.name} and replay ${target}`, async () => {
    const r = await running(replica);
    return r.walReceiver?.status === 'streaming' && r.walReceiver.senderPort === primary.port && (r.replayLsn ?? 0) >= target;
  }, { timeoutMs: 30_000, intervalMs: 50 });
}

beforeAll(async () => {
  ({ logger, file: logFile } = await makeLogger());
  a = await makeNode('a', { logger });
  b = await makeNode('b', { logger });
  c = await makeNode('c', { logger });
});

afterAll(async () => {
  for (const n of [a, b, c]) {
    await n?.observer.close();
    await n?.supervisor.close();
  }
  console.info(`postgres controller timings (ms): ${JSON.stringify(timings)}`);
  if (process.env.PGHA_DEBUG_LOG) (await import('node:fs')).copyFileSync(logFile, process.env.PGHA_DEBUG_LOG);
});

/**
 * The node's pgpass file is scoped (no wildcard host or port) and gives the replication password
 * to exactly one host:port, its upstream's.
 */
function expectScopedPgpass(n: TestNode, upstreamPort: number): void {
  const text = readFileSync(n.config.postgresql.pgpass, 'utf8');
  for (const line of text.trimEnd().split('\n')) {
    const [host, port] = line.split(/(?<!\\):/);
    expect(host).not.toBe('*');
    expect(port).toMatch(/^\d+$/);
  }
  expect(text.split('\n').filter((l) => l.includes(':replicator:'))).toEqual([`127.0.0.1:${upstreamPort}:*:replicator:rep-pass`]);
}

describe('PostgreSQL controller', () => {
  it('bootstraps a primary and clones two streaming replicas', async () => {
    const boot = await bootstrapPrimary({ config: a.config, dynamicConfig: testDynamicConfig(), runner: a.runner, logger, supervisor: a.supervisor });
    a.track();
    timings.bootstrapMs = boot.durationMs;
    expect(boot.systemIdentifier).toMatch(/^\d+$/);

    const pa = await running(a);
    expect(pa.inRecovery).toBe(false);
    expect(pa.timeline).toBe(1);
    expect(pa.systemIdentifier).toBe(boot.systemIdentifier);
    expect(pa.control?.dataChecksums).toBe(true);
    expect(pa.serverVersion).toBeGreaterThanOrEqual(150000);
    // The roles exist and the passwords from the config work over TCP.
    expect(await queryAs(a.port, 'rewind_user', 'rw-secret', 'SELECT 1 AS ok')).toEqual([{ ok: 1 }]);
    const [settings] = await a.query<{ w: string; h: string; l: string }>(
      `SELECT current_setting('wal_level') AS w, current_setting('hot_standby') AS h, current_setting('wal_log_hints') AS l`);
    expect(settings).toEqual({ w: 'replica', h: 'on', l: 'on' });

    await syncSlots(a, ['a', 'b', 'c']);
    for (const n of [b, c]) {
      const clone = await cloneFrom({ config: n.config, runner: n.runner, logger, source: a.upstream(), dynamicConfig: testDynamicConfig() });
      timings[`clone${n.name.toUpperCase()}Ms`] = clone.durationMs;
      await n.start({ role: 'replica', leader: a.upstream() });
    }
    await a.query('CREATE TABLE t (id int PRIMARY KEY, origin text)');
    await a.query(`INSERT INTO t SELECT g, 'a' FROM generate_series(1, 100) g`);
    for (const n of [b, c]) await caughtUp(n, a);

    const rb = await running(b);
    expect(rb.inRecovery).toBe(true);
    expect(rb.standbySignal).toBe(true);
    expect(rb.systemIdentifier).toBe(boot.systemIdentifier);
    expect(rb.walReceiver).toMatchObject({ status: 'streaming', senderHost: '127.0.0.1', senderPort: a.port, slotName: 'b' });
    expect(rb.primarySlotName).toBe('b');
    expect(rb.primaryConninfo).toContain('application_name=b');
    for (const n of [b, c]) expectScopedPgpass(n, a.port);
    const replication = (await running(a)).replication;
    expect(replication.map((r) => [r.applicationName, r.state])).toEqual([['b', 'streaming'], ['c', 'streaming']]);
    expect(await c.query<{ n: string }>('SELECT count(*)::text AS n FROM t')).toEqual([{ n: '100' }]);
  });

  it('promotes B and points C at it without restarting C', async () => {
    const startTimeBefore = (await running(c)).postmasterStartTime;
    const promoted = await b.supervisor.promote(30_000);
    timings.promoteMs = promoted.durationMs;
    expect(promoted).toMatchObject({ alreadyPrimary: false, timeline: 2 });
    const pb = await running(b);
    expect(pb.inRecovery).toBe(false);
    expect(pb.standbySignal).toBe(false);
    await syncSlots(b, ['a', 'b', 'c']);

    const followed = await c.supervisor.follow(b.upstream());
    timings.followMs = followed.durationMs;
    expect(followed.changed).toBe(true);
    expect(followed.receiver).toMatchObject({ status: 'streaming', senderHost: '127.0.0.1', senderPort: b.port });
    // The WAL receiver authenticated to B from a pgpass that no longer names A.
    expectScopedPgpass(c, b.port);

    await b.query(`INSERT INTO t SELECT g, 'b' FROM generate_series(101, 150) g`);
    await caughtUp(c, b);
    // The receiver first streams the rest of timeline 1 from B, then B's timeline 2.
    const rc = await waitFor('C to receive timeline 2', async () => {
      const r = await running(c);
      return r.walReceiver?.receivedTimeline === 2 ? r : null;
    }, { timeoutMs: 10_000, intervalMs: 50 });
    expect(rc.postmasterStartTime).toBe(startTimeBefore);
    expect(rc.timeline).toBe(2);
    // GET /patroni's fresh reading carries the timeline with the position (seed 612 of set 5).
    for (const [n, inRecovery] of [[c, true], [b, false]] as const) {
      const walNow = createWalNow(n.config, logger, 5_000);
      try {
        expect(await walNow.read()).toMatchObject({ inRecovery, timeline: 2 });
      } finally {
        await walNow.close();
      }
    }
    expect(await c.query<{ n: string }>(`SELECT count(*)::text AS n FROM t WHERE origin = 'b'`)).toEqual([{ n: '50' }]);
    // Following the same upstream again changes nothing.
    expect((await c.supervisor.follow(b.upstream())).changed).toBe(false);
  });

  it('fences the old primary: no new connection, and no start until cleared', async () => {
    // A, still a primary on timeline 1, takes writes B never sees.
    await a.query(`INSERT INTO t SELECT g, 'a-diverged' FROM generate_series(1001, 1200) g`);
    await a.query(`UPDATE t SET origin = 'a-changed' WHERE id <= 10`);
    const report = await a.supervisor.fence('lease lost (test)');
    timings.fenceMs = report.durationMs;
    expect(report.signal).not.toBe('none');
    expect(a.supervisor.isFenced()).toBe(true);
    await expect(queryAs(a.port, 'postgres', 'su-secret', 'SELECT 1')).rejects.toThrow();
    expect((await a.observer.observe()).kind).toBe('down');
    const refused = await a.start({ role: 'primary' }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(PgError);
    expect((refused as PgError).code).toBe('fenced');
    expect((refused as PgError).message).toContain('lease lost (test)');
    await expect(queryAs(a.port, 'postgres', 'su-secret', 'SELECT 1')).rejects.toThrow();
    a.supervisor.clearFence();
    expect(a.supervisor.isFenced()).toBe(false);
  });

  it('rewinds the diverged old primary, which then streams from B with B\'s rows only', async () => {
    const down = await a.observer.observe();
    expect(down.kind).toBe('down');
    expect(down.control?.state).toBe('in production'); // fenced: immediate shutdown

    const result = await rejoinAsReplica({ config: a.config, runner: a.runner, logger, supervisor: a.supervisor, leader: b.upstream(), dynamicConfig: testDynamicConfig() });
    a.track();
    timings.rejoinMs = result.durationMs;
    expect(result.outcome).toBe('rewound');
    if (result.outcome !== 'rewound') return;
    expect(result.decision.kind).toBe('needed');

    await b.query(`INSERT INTO t SELECT g, 'b' FROM generate_series(151, 160) g`);
    await caughtUp(a, b);
    const ra = await running(a);
    expect(ra.inRecovery).toBe(true);
    expect(ra.timeline).toBe(2);
    expect(ra.walReceiver).toMatchObject({ status: 'streaming', senderPort: b.port, slotName: 'a' });
    expectScopedPgpass(a, b.port);

    const rowsA = await a.query<{ id: number; origin: string }>('SELECT id, origin FROM t ORDER BY id');
    const rowsB = await b.query<{ id: number; origin: string }>('SELECT id, origin FROM t ORDER BY id');
    expect(rowsB).toHaveLength(160);
    expect(rowsA).toEqual(rowsB);
    expect(rowsA.some((r) => r.origin.startsWith('a-'))).toBe(false);
  });

  it('after a clean switchover the old primary rejoins without pg_rewind', async () => {
    await caughtUp(a, b);
    await caughtUp(c, b);
    await b.supervisor.checkpoint(30_000);
    expect(await b.supervisor.stop({ mode: 'fast', timeoutMs: 30_000 })).toBe('stopped');
    // A fast shutdown sends every WAL record, the shutdown checkpoint included, to the replicas.
    const promoted = await a.supervisor.promote(30_000);
    expect(promoted.timeline).toBe(3);
    await syncSlots(a, ['a', 'b', 'c']);
    await c.supervisor.follow(a.upstream());

    const result = await rejoinAsReplica({ config: b.config, runner: b.runner, logger, supervisor: b.supervisor, leader: a.upstream(), dynamicConfig: testDynamicConfig() });
    b.track();
    timings.switchoverRejoinMs = result.durationMs;
    expect(result.outcome).toBe('no-rewind-needed');
    await a.query(`INSERT INTO t SELECT g, 'a' FROM generate_series(161, 170) g`);
    await caughtUp(b, a);
    await caughtUp(c, a);
    expect(await b.query<{ n: string }>('SELECT count(*)::text AS n FROM t')).toEqual([{ n: '170' }]);
  });

  it('on rewind failure stays stopped, or re-clones after moving the data directory aside', async () => {
    // C diverges: promoted on its own, writes, stops.
    await c.supervisor.promote(30_000);
    await c.query(`INSERT INTO t SELECT g, 'c-diverged' FROM generate_series(2001, 2010) g`);
    await c.supervisor.stop({ mode: 'fast', timeoutMs: 30_000 });
    const noRewind = { ...c.config, postgresql: { ...c.config.postgresql, use_pg_rewind: false } };
    const common = { config: noRewind, runner: c.runner, logger, supervisor: c.supervisor, leader: a.upstream(), dynamicConfig: testDynamicConfig({ use_pg_rewind: false }) };

    const stayed = await rejoinAsReplica({ ...common, onRewindFailure: 'stay-stopped' });
    expect(stayed.outcome).toBe('failed');
    if (stayed.outcome !== 'failed') return;
    expect(stayed.reason).toContain('use_pg_rewind is off');
    const still = await c.observer.observe();
    expect(still).toMatchObject({ kind: 'down', dataDir: 'initialized' });

    const recloned = await rejoinAsReplica({ ...common, onRewindFailure: 'reclone' });
    c.track();
    timings.recloneMs = recloned.durationMs;
    expect(recloned.outcome).toBe('recloned');
    if (recloned.outcome !== 'recloned') return;
    expect(recloned.movedTo).toContain(`${c.dataDir}.rewind-failed.`);
    expect(existsSync(join(recloned.movedTo, 'PG_VERSION'))).toBe(true);
    await caughtUp(c, a);
    const rows = await c.query<{ n: string }>(`SELECT count(*)::text AS n FROM t WHERE origin LIKE 'c-%'`);
    expect(rows).toEqual([{ n: '0' }]);
  });

  it('the fork check waits, for a bound, for a new leader that is still promoting', async () => {
    const deps = { config: a.config, runner: a.runner, logger };
    // B is a replica of A: not a rewind source; with a short bound the check gives up.
    await expect(leaderTimelineWhenPrimary(deps, b.upstream(), 300)).rejects.toBeInstanceOf(LeaderNotPrimaryError);
    // B promoted while the check waits: it reads B's new timeline instead of failing.
    const waiting = leaderTimelineWhenPrimary(deps, b.upstream(), 20_000);
    await b.supervisor.promote(30_000);
    expect((await waiting).timeline).toBe(4);
  });

  it('never logs a password', () => {
    const log = readLog(logFile);
    expect(log.length).toBeGreaterThan(0);
    for (const secret of SECRETS) expect(log).not.toContain(secret);
  });
});
