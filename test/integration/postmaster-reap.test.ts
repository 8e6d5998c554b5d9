// A postmaster that exited (a fence's SIGKILL, a crash) keeps its PID until its parent reaps it, and
// PostgreSQL's own lock-file check counts that corpse as a running server. Seen in CI: PID 1 there
// reaps about every 2 s, a fenced leader's restarted agent ran crash recovery 1.4 s after the fence,
// PostgreSQL refused ("lock file postmaster.pid already exists"), and the agent took that refusal as
// a verdict on its data directory and stayed stopped for good. Here the corpse is made on purpose:
// a process of the postgres user whose parent never waits for it, its PID written into
// postmaster.pid of a crashed primary.
import { spawn, type ChildProcess } from 'node:child_process';
import { chownSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Logger } from 'pino';
import { bootstrapPrimary } from '../../src/postgres/bootstrap.js';
import { PgError } from '../../src/postgres/errors.js';
import { isZombie } from '../../src/postgres/files.js';
import { createControlDataReader } from '../../src/postgres/observer.js';
import { ensureCleanShutdown } from '../../src/postgres/rewind.js';
import { isAlive, isRoot, postgresSpawnIds, postgresUser, StopWaiting, waitFor } from '../harness/index.js';
import { testDynamicConfig } from '../unit/postgres/fixtures.js';
import { makeLogger, makeNode, type TestNode } from './postgres-helpers.js';

let logger: Logger;
let node: TestNode;
let parent: ChildProcess | null = null;
/** postmaster.pid as the crashed postmaster left it (crash recovery removes it). */
let crashedPidFile = '';

/** A zombie of the postgres user: a child that exits at once under a parent that never waits. */
async function makeZombie(): Promise<{ parent: ChildProcess; zombie: number }> {
  const p = spawn('python3', ['-c', 'import os, sys, time\npid = os.fork()\nif pid == 0: os._exit(0)\nprint(pid, flush=True)\ntime.sleep(600)'], {
    ...postgresSpawnIds(), stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  p.stdout?.on('data', (d: Buffer) => { out += d.toString(); });
  const zombie = await waitFor('the zombie to exist', () => {
    const pid = Number(out.trim());
    return pid > 0 && isZombie(pid) ? pid : null;
  }, { timeoutMs: 10_000, intervalMs: 20 });
  return { parent: p, zombie };
}

/** Points postmaster.pid of the (crashed) data dir at `pid`, as a fenced postmaster's corpse would. */
function pidFileNames(pid: number): void {
  const lines = crashedPidFile.split('\n');
  lines[0] = String(pid);
  const file = join(node.dataDir, 'postmaster.pid');
  writeFileSync(file, lines.join('\n'), { mode: 0o600 });
  if (isRoot()) chownSync(file, postgresUser().uid, postgresUser().gid);
}

/** Kill -9 of the postmaster (a crash: pg_control says "in production"), left on disk as it was. */
async function crash(): Promise<void> {
  const pid = Number(readFileSync(join(node.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  process.kill(pid, 'SIGKILL');
  await waitFor('the postmaster and its children to be gone', () => !isAlive(pid) || null, { timeoutMs: 10_000, intervalMs: 20 });
  // The children notice their postmaster's death on their own; give them the moment they need.
  await waitFor('no backend of the data dir left', async () => {
    const busy = await node.query('SELECT 1').then(() => true, () => false);
    return !busy || null;
  }, { timeoutMs: 10_000, intervalMs: 50 });
}

beforeAll(async () => {
  ({ logger } = await makeLogger());
  node = await makeNode('reap', { logger });
  await bootstrapPrimary({ config: node.config, dynamicConfig: testDynamicConfig(), runner: node.runner, logger, supervisor: node.supervisor });
  node.track();
});

afterAll(async () => {
  if (parent?.pid !== undefined && isAlive(parent.pid)) parent.kill('SIGKILL');
  await node?.observer.close();
  await node?.supervisor.close();
});

describe('a postmaster not yet reaped', () => {
  it('crash recovery before a rewind check waits for the reap instead of giving a verdict on the data directory', async () => {
    await node.query('CREATE TABLE t (v int)');
    await node.query('INSERT INTO t VALUES (1)');
    await crash();
    crashedPidFile = readFileSync(join(node.dataDir, 'postmaster.pid'), 'utf8');
    const z = await makeZombie();
    parent = z.parent;
    pidFileNames(z.zombie);
    const control = await createControlDataReader({ config: node.config, logger, runner: node.runner, timeoutMs: 30_000 })();
    expect(control?.state).toBe('in production');
    const deps = { config: node.config, runner: node.runner, logger, dynamicConfig: testDynamicConfig() };

    // While the corpse exists: a retryable refusal after a bounded wait, never a verdict.
    const first = await ensureCleanShutdown(deps, control!).then(() => null, (err: unknown) => err);
    expect(first).toBeInstanceOf(PgError);
    expect((first as PgError).retryable).toBe(true);
    expect((first as PgError).message).toContain(`PID ${z.zombie}`);

    // Its parent goes, PID 1 reaps it: the same call, retried as the agent's loop retries it, succeeds.
    setTimeout(() => z.parent.kill('SIGKILL'), 300);
    const done = await waitFor('crash recovery once the corpse is reaped', async () => {
      try {
        return await ensureCleanShutdown(deps, control!);
      } catch (err) {
        if (err instanceof PgError && err.retryable) return null;
        throw new StopWaiting(`a verdict instead of a retry: ${String(err)}`);
      }
    }, { timeoutMs: 60_000, intervalMs: 200 });
    expect(done).toBe(true);
    const after = await createControlDataReader({ config: node.config, logger, runner: node.runner, timeoutMs: 30_000 })();
    expect(after?.state).toBe('shut down');
  });

  it('a start over the corpse of the last postmaster is a retryable failure, and starts once it is reaped', async () => {
    const z = await makeZombie();
    parent = z.parent;
    pidFileNames(z.zombie);
    const first = await node.start({ role: 'primary' }).then(() => null, (err: unknown) => err);
    expect(first).toBeInstanceOf(PgError);
    expect((first as PgError).retryable).toBe(true);
    setTimeout(() => z.parent.kill('SIGKILL'), 300);
    await waitFor('a start once the corpse is reaped', async () => {
      try {
        return await node.start({ role: 'primary' });
      } catch (err) {
        if (err instanceof PgError && err.retryable) return null;
        throw new StopWaiting(`a verdict instead of a retry: ${String(err)}`);
      }
    }, { timeoutMs: 60_000, intervalMs: 200 });
    expect(await node.query<{ v: number }>('SELECT v FROM t')).toEqual([{ v: 1 }]);
  });
});
