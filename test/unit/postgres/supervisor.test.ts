import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RunnerError } from '../../../src/exec/runner.js';
import type { RunOptions, RunResult, Runner } from '../../../src/exec/runner.js';
import { PgError } from '../../../src/postgres/errors.js';
import { childPidsOf, isPostmasterAlive } from '../../../src/postgres/files.js';
import { fenceNow } from '../../../src/postgres/pgctl.js';
import { createPgSupervisor } from '../../../src/postgres/supervisor.js';
import { testConfig, testDynamicConfig } from './fixtures.js';

const logger = pino({ level: 'silent' });
let dir: string;
const children: ChildProcess[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pgha-sup-'));
  await mkdir(join(dir, 'data'), { mode: 0o700 });
  await writeFile(join(dir, 'data', 'PG_VERSION'), '15\n');
  await mkdir(join(dir, 'bin'));
  for (const b of ['pg_ctl', 'postgres']) {
    await writeFile(join(dir, 'bin', b), '#!/bin/sh\nexit 0\n');
    await chmod(join(dir, 'bin', b), 0o755);
  }
});

afterEach(async () => {
  for (const c of children.splice(0)) if (c.pid !== undefined) for (const p of [...childPidsOf(c.pid), c.pid]) try { process.kill(p, 'SIGKILL'); } catch { /* gone */ }
  await rm(dir, { recursive: true, force: true });
});

function config() {
  return testConfig({ dataDir: join(dir, 'data'), pgpass: join(dir, 'pgpass'), postgresql: { bin_dir: join(dir, 'bin') } });
}

const ok = (stdout = ''): RunResult => ({ exitCode: 0, signal: null, stdout, stderr: '', durationMs: 1, timedOut: false });

/** pg_ctl start hangs until aborted while `hang` is set; every call is recorded. */
function fakeRunner(): Runner & { calls: string[]; hang: boolean; started: Promise<void> } {
  let markStarted!: () => void;
  const started = new Promise<void>((r) => { markStarted = r; });
  const runner = {
    calls: [] as string[],
    hang: true,
    started,
    async run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
      runner.calls.push([cmd.split('/').pop(), ...args.slice(0, 1)].join(' '));
      if (cmd === 'id') return ok(String(process.getuid?.() ?? 0));
      if (args[0] === 'start' && runner.hang) {
        markStarted();
        return new Promise((_, reject) => {
          opts.signal?.addEventListener('abort', () => reject(new RunnerError('aborted', cmd, 'command aborted')), { once: true });
        });
      }
      return ok();
    },
  };
  return runner;
}

describe('supervisor fence', () => {
  it('preempts a hung start, is sticky, and clears', async () => {
    const runner = fakeRunner();
    const sup = createPgSupervisor({ config: config(), logger, runner, dynamicConfig: testDynamicConfig() });
    const start = sup.start({ role: 'primary', timeoutMs: 60_000 });
    await runner.started;
    expect(sup.busy()).toBe('start');
    const t0 = performance.now();
    const report = await sup.fence('lease expired');
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(report.signal).toBe('none');
    const err = await start.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PgError);
    expect((err as PgError).code).toBe('fenced');
    expect(sup.isFenced()).toBe(true);
    expect(sup.fenceReason()).toBe('lease expired');

    const before = runner.calls.length;
    await expect(sup.start({ role: 'replica', timeoutMs: 1000 })).rejects.toThrow(/fenced \(lease expired\)/);
    expect(runner.calls.length).toBe(before);
    // A promotion decided before the fence and run after it is refused before any SQL.
    await expect(sup.promote(1000)).rejects.toThrow(/fenced \(lease expired\); clear the fence before promoting it/);

    sup.clearFence();
    runner.hang = false;
    expect(await sup.start({ role: 'primary', timeoutMs: 1000 })).toBe('ready');
    await sup.close();
  });
});

/** Alive and not a zombie (orphans may wait a while for a reaper). */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\S+ \(.*\) [ZX]/s.test(stat);
  } catch {
    return false;
  }
}

async function fakePostmaster(script: string): Promise<{ child: ChildProcess; pid: number }> {
  const path = join(dir, 'bin', 'postgres');
  await writeFile(path, `#!/bin/sh\n${script}\n`);
  await chmod(path, 0o755);
  const child = spawn(path, [], { stdio: 'ignore' });
  children.push(child);
  const pid = child.pid;
  if (pid === undefined) throw new Error('spawn failed');
  await writeFile(join(dir, 'data', 'postmaster.pid'), `${pid}\n${join(dir, 'data')}\n`);
  // Wait for the shell to have started its child (and installed its trap).
  const deadline = performance.now() + 5000;
  while (childPidsOf(pid).length === 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  return { child, pid };
}

describe('fenceNow', () => {
  it('stops a postmaster with SIGQUIT when that is enough', async () => {
    const { pid } = await fakePostmaster(`trap 'exit 0' QUIT\nsleep 30 &\nwait`);
    expect(isPostmasterAlive(pid)).toBe(true);
    const report = await fenceNow({ config: config(), logger }, 'test', 2000);
    expect(report).toMatchObject({ pid, signal: 'SIGQUIT' });
    expect(isPostmasterAlive(pid)).toBe(false);
  });

  it('kills a postmaster that ignores SIGQUIT, and its children, after the bound', async () => {
    const { pid } = await fakePostmaster(`trap '' QUIT\nsleep 30 &\nwait`);
    const kids = childPidsOf(pid);
    expect(kids.length).toBeGreaterThan(0);
    const report = await fenceNow({ config: config(), logger }, 'test', 200);
    expect(report).toMatchObject({ pid, signal: 'SIGKILL' });
    expect(report.durationMs).toBeGreaterThanOrEqual(200);
    expect(isPostmasterAlive(pid)).toBe(false);
    await new Promise((r) => setTimeout(r, 50));
    for (const k of kids) expect(running(k)).toBe(false);
  });

  it('does nothing when nothing runs', async () => {
    expect(await fenceNow({ config: config(), logger }, 'test')).toMatchObject({ pid: null, signal: 'none' });
  });
});
