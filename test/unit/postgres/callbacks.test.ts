import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { createCallbackExecutor, type CallbackExecutor, type CallbackRole } from '../../../src/postgres/callbacks.js';
import { withCallbacks } from '../../../src/postgres/pg-callbacks.js';
import type { CallbackName } from '../../../src/config/types.js';
import type { LocalPg } from '../../../src/core/local-pg.js';
import { RunnerError, type RunOptions, type Runner } from '../../../src/exec/runner.js';
import type { PgPort } from '../../../src/loop/pg-port.js';
import { localPg, ref } from '../core/builders.js';

const silent = pino({ level: 'silent' });

/** A runner whose commands end when the test says so (or when aborted). */
function fakeRunner() {
  const started: { argv: string[]; finish: () => void; aborted: boolean }[] = [];
  const runner: Runner = {
    run: (cmd: string, args: readonly string[], opts: RunOptions = {}) => new Promise((resolve, reject) => {
      const entry = { argv: [cmd, ...args], aborted: false, finish: () => resolve({ exitCode: 0, signal: null, stdout: '', stderr: '', durationMs: 1, timedOut: false }) };
      started.push(entry);
      if (opts.signal?.aborted) reject(new RunnerError('aborted', cmd, 'aborted before start'));
      opts.signal?.addEventListener('abort', () => { entry.aborted = true; reject(new RunnerError('aborted', cmd, 'aborted')); });
    }),
  };
  return { runner, started };
}

describe('the callback executor (Patroni callback_executor.py)', () => {
  it('runs shlex.split(command) + [action, role, scope], never waiting, one at a time (on_reload apart)', async () => {
    const { runner, started } = fakeRunner();
    const cb = createCallbackExecutor({
      commands: () => ({ on_role_change: `/usr/bin/python3 features/callback2.py 'postgres 0' 5361`, on_reload: '/bin/reload-hook', on_stop: '' }),
      scope: () => 'batman', runner, logger: silent,
    });
    cb.call('on_role_change', 'primary');
    await Promise.resolve();
    expect(started.map((s) => s.argv)).toEqual([['/usr/bin/python3', 'features/callback2.py', 'postgres 0', '5361', 'on_role_change', 'primary', 'batman']]);
    cb.call('on_reload', 'primary');
    cb.call('on_stop', 'primary'); // empty command: nothing runs, nothing is cancelled
    await new Promise((r) => setTimeout(r, 0));
    expect(started.map((s) => s.argv[0])).toEqual(['/usr/bin/python3', '/bin/reload-hook']);
    expect(started.some((s) => s.aborted)).toBe(false);
    // A newer role change cancels the one still running, and starts once it has ended.
    cb.call('on_role_change', 'demoted');
    await new Promise((r) => setTimeout(r, 0));
    expect(started[0]?.aborted).toBe(true);
    expect(started.at(-1)?.argv.slice(-3)).toEqual(['on_role_change', 'demoted', 'batman']);
    for (const s of started) s.finish();
    await cb.idle();
  });
});

/** A PgPort whose operations succeed or fail as the test sets, and whose observation the test sets. */
function fakePg() {
  const state = { local: localPg.down() as LocalPg, failStart: false };
  const ok = async (): Promise<void> => {
    if (state.failStart) throw new Error('postgresql did not become ready');
  };
  const pg: PgPort = {
    observe: async () => state.local,
    isFenced: () => false, fence: async () => undefined, clearFence: () => undefined,
    promote: async () => 2, writeTimelineFiles: async () => undefined, follow: async () => undefined,
    stop: async () => (state.local.kind === 'running' ? 'stopped' : 'already-stopped'),
    checkpoint: async () => undefined, controlData: async () => null, syncSlots: async () => undefined,
    peerReceiveLsn: async () => null, peerInRecovery: async () => null, currentLsn: async () => null,
    bootstrap: async () => ({ systemId: '1' }), clone: async () => undefined,
    startPrimary: ok, startReplica: ok, rejoin: async () => ({ rewound: false }),
    applyDynamicConfig: async () => undefined, setSyncStandbyNames: async () => undefined, moveDataAside: async () => '/x', close: async () => undefined,
  };
  return { pg, state };
}

function recorder(): CallbackExecutor & { calls: string[] } {
  const calls: string[] = [];
  return { calls, call: (a: CallbackName, r: CallbackRole) => { calls.push(`${a} ${r}`); }, idle: async () => undefined };
}

describe('which callback a PostgreSQL operation calls for (as Patroni decides it)', () => {
  it('a primary found running gets on_start once; promotion, a failed restart and the return as replica are role changes', async () => {
    const { pg, state } = fakePg();
    const cb = recorder();
    const p = withCallbacks(pg, cb);
    state.local = localPg.primary();
    await p.observe();
    await p.observe();
    expect(cb.calls).toEqual(['on_start primary']);
    // The postmaster is killed and cannot be started again (recovery.feature: "on_role_change demoted").
    state.local = localPg.down({ state: 'in production' });
    await p.observe();
    state.failStart = true;
    await expect(p.startPrimary()).rejects.toThrow();
    await expect(p.startPrimary()).rejects.toThrow();
    expect(cb.calls).toEqual(['on_start primary', 'on_role_change demoted']);
    state.failStart = false;
    await p.rejoin(ref('pg2'));
    expect(cb.calls.at(-1)).toBe('on_role_change replica');
    state.local = localPg.replica();
    await p.observe();
    await p.promote(1000);
    expect(cb.calls.slice(3)).toEqual(['on_role_change primary']);
  });

  it('a replica: on_start, on_reload for a new upstream, on_stop, and one on_restart for a restart', async () => {
    const { pg, state } = fakePg();
    const cb = recorder();
    const p = withCallbacks(pg, cb);
    await p.clone(ref('pg1'));
    await p.startReplica(ref('pg1'));
    state.local = localPg.replica();
    await p.observe();
    await p.follow(ref('pg2'));
    p.beginRestart();
    await p.stop('fast', 1000);
    await p.startReplica(ref('pg2'));
    await p.stop('fast', 1000);
    state.local = localPg.down();
    await p.stop('fast', 1000); // nothing was running: no callback
    await p.fence('lease lost'); // fencing runs no user command
    expect(cb.calls).toEqual(['on_start replica', 'on_reload replica', 'on_restart replica', 'on_stop replica']);
  });

  it('a PostgreSQL seen running while a start is in flight is left for that start to report', async () => {
    const { pg, state } = fakePg();
    const cb = recorder();
    let release = (): void => undefined;
    pg.startReplica = () => new Promise<void>((r) => { release = r; });
    const p = withCallbacks(pg, cb);
    const started = p.startReplica(null);
    state.local = localPg.replica();
    await p.observe();
    expect(cb.calls).toEqual([]);
    release();
    await started;
    expect(cb.calls).toEqual(['on_start replica']);
  });
});
