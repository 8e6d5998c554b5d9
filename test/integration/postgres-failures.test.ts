// Failures of the PostgreSQL controller are clear: a bad parameter comes back with the server's
// log tail, a missing binary and a foreign-owned data dir name their path, a hung server is
// reported as unresponsive within the observation bound.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { bootstrapPrimary } from '../../src/postgres/bootstrap.js';
import { cloneFrom } from '../../src/postgres/clone.js';
import { PgError } from '../../src/postgres/errors.js';
import { signalPostmasterTree } from '../../src/postgres/pgctl.js';
import { readPostmasterPidSync } from '../../src/postgres/files.js';
import { makeTempDir, waitFor } from '../harness/index.js';
import { testDynamicConfig } from '../unit/postgres/fixtures.js';
import { TEST_PARAMETERS, makeLogger, makeNode } from './postgres-helpers.js';
import type { TestNode } from './postgres-helpers.js';

let logger: Logger;
const nodes: TestNode[] = [];

async function node(name: string, o: Omit<Parameters<typeof makeNode>[1], 'logger'> = {}): Promise<TestNode> {
  const n = await makeNode(name, { logger, ...o });
  nodes.push(n);
  return n;
}

async function failure(p: Promise<unknown>): Promise<PgError> {
  const err = await p.then(() => null, (e: unknown) => e);
  if (!(err instanceof PgError)) throw new Error(`expected a PgError, got ${String(err)}`);
  return err;
}

beforeAll(async () => {
  ({ logger } = await makeLogger());
});

afterAll(async () => {
  for (const n of nodes) {
    await n.observer.close();
    await n.supervisor.close();
  }
});

describe('PostgreSQL controller failures', () => {
  it('names the missing binary', async () => {
    const n = await node('nobin', { postgresql: { bin_dir: '/nonexistent/pg/bin' } });
    const err = await failure(bootstrapPrimary({ config: n.config, dynamicConfig: testDynamicConfig(), runner: n.runner, logger, supervisor: n.supervisor }));
    expect(err.code).toBe('binary-missing');
    expect(err.message).toContain('/nonexistent/pg/bin/initdb');
  });

  it('names a data directory owned by another user', async () => {
    const rootOwned = join(await makeTempDir('pgha-rootowned'), '');
    const n = await node('owner', { dataDir: rootOwned });
    const boot = await failure(bootstrapPrimary({ config: n.config, dynamicConfig: testDynamicConfig(), runner: n.runner, logger, supervisor: n.supervisor }));
    expect(boot.code).toBe('data-dir-owner');
    expect(boot.message).toContain(rootOwned);
    const clone = await failure(cloneFrom({ config: n.config, runner: n.runner, logger, source: { host: '127.0.0.1', port: 1, name: 'x' } }));
    expect(clone.code).toBe('data-dir-owner');
    expect(clone.message).toContain(rootOwned);
  });

  it('reports a parameter that keeps PostgreSQL from starting, with the log tail', async () => {
    const n = await node('badparam', { postgresql: { parameters: { ...TEST_PARAMETERS, shared_buffers: 'plenty' } } });
    const err = await failure(bootstrapPrimary({ config: n.config, dynamicConfig: testDynamicConfig(), runner: n.runner, logger, supervisor: n.supervisor }));
    expect(err.code).toBe('start-failed');
    expect(err.logTail).toMatch(/invalid value for parameter "shared_buffers": "plenty"/);
    expect(err.message).toContain('shared_buffers');
    const down = await n.observer.observe();
    expect(down).toMatchObject({ kind: 'down', dataDir: 'initialized' });
    expect(down.control?.state).toBe('shut down');
  });

  it('refuses to bootstrap over an existing cluster', async () => {
    const n = nodes.find((x) => x.name === 'badparam');
    if (!n) throw new Error('badparam node missing');
    const err = await failure(bootstrapPrimary({ config: n.config, dynamicConfig: testDynamicConfig(), runner: n.runner, logger, supervisor: n.supervisor }));
    expect(err.code).toBe('data-dir-not-empty');
    expect(err.message).toContain(n.dataDir);
  });

  it('observes empty, running, unresponsive (hung) and down; reloads, restarts, checkpoints', async () => {
    const n = await node('hung');
    expect(await n.observer.observe()).toMatchObject({ kind: 'down', dataDir: 'empty', control: null });
    await bootstrapPrimary({ config: n.config, dynamicConfig: testDynamicConfig(), runner: n.runner, logger, supervisor: n.supervisor });
    n.track();
    expect((await n.observer.observe()).kind).toBe('running');
    const pid = readPostmasterPidSync(join(n.dataDir, 'postmaster.pid'));
    if (pid === null) throw new Error('no postmaster.pid');
    signalPostmasterTree(pid, 'SIGSTOP');
    try {
      const t0 = performance.now();
      const hung = await n.observer.observe();
      const tookMs = performance.now() - t0;
      expect(hung).toMatchObject({ kind: 'unresponsive', pid });
      expect(tookMs).toBeLessThan(10_000);
    } finally {
      signalPostmasterTree(pid, 'SIGCONT');
    }
    expect((await n.observer.observe()).kind).toBe('running');

    // A cluster-config change: reloadable parameters apply at once, others show as pending restart.
    const changed = await n.supervisor.updateConfig(testDynamicConfig({ parameters: { work_mem: '7MB', max_prepared_transactions: 5 } }));
    expect(changed.changed).toContain('postgresql.conf');
    await n.supervisor.reload();
    const after = await waitFor('the reload to apply', async () => {
      const pg = await n.observer.observe();
      return pg.kind === 'running' && pg.pendingRestart ? pg : null;
    }, { timeoutMs: 10_000, intervalMs: 50 });
    expect(await n.query<{ w: string }>(`SELECT current_setting('work_mem') AS w`)).toEqual([{ w: '7MB' }]);
    const restarted = await n.supervisor.restart({ role: 'primary', timeoutMs: 60_000 });
    n.track();
    expect(restarted).toBe('ready');
    const fresh = await n.observer.observe();
    expect(fresh).toMatchObject({ kind: 'running', pendingRestart: false });
    if (fresh.kind !== 'running' || after.kind !== 'running') return;
    expect(fresh.postmasterStartTime).not.toBe(after.postmasterStartTime);
    await n.supervisor.checkpoint(30_000);

    expect(await n.supervisor.stop({ mode: 'fast', timeoutMs: 30_000 })).toBe('stopped');
    const down = await n.observer.observe();
    expect(down).toMatchObject({ kind: 'down', dataDir: 'initialized' });
    expect(down.control?.state).toBe('shut down');
    expect(await n.supervisor.stop({ mode: 'fast', timeoutMs: 30_000 })).toBe('already-stopped');
  });
});
