// The agent's side of the fence guard: spawn it, feed it the deadline, restart it if it dies.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import type { GuardMessage } from '../core/fence-guard-protocol.js';

export interface FenceGuard {
  update(armed: boolean, deadlineMonoMs: number): void;
  /** Clean exit: tell the guard to leave without fencing. */
  close(): Promise<void>;
  pid(): number | null;
}

export function startFenceGuard(deps: { dataDir: string; logger: Logger }): FenceGuard {
  const script = fileURLToPath(new URL('../bin/fence-guard.js', import.meta.url));
  let child: ChildProcess | null = null;
  // Nothing is sent until the first tick knows: a new guard may have taken over a live deadline
  // from the guard of a previous (killed) agent, and an early "disarm" would drop it.
  let last: GuardMessage | null = null;
  let closing = false;

  const send = (msg: GuardMessage | null) => {
    if (msg && child?.stdin?.writable) child.stdin.write(`${JSON.stringify(msg)}\n`);
  };

  function launch(): void {
    // Detached: its own process group, so a signal aimed at the agent's group does not reach it.
    const c = spawn(process.execPath, [script, deps.dataDir], { stdio: ['pipe', 'ignore', 'inherit'], detached: true });
    c.unref();
    child = c;
    c.stdin?.on('error', () => undefined);
    deps.logger.info({ pid: c.pid }, 'fence guard started');
    c.on('exit', (code, signal) => {
      if (child === c) child = null;
      if (closing) return;
      deps.logger.warn({ code, signal }, 'fence guard exited; restarting it');
      setTimeout(() => {
        if (!closing) {
          launch();
          send(last);
        }
      }, 200).unref();
    });
    send(last);
  }
  launch();

  return {
    update(armed, deadlineMonoMs) {
      // JSON has no -Infinity: an armed guard without a lease gets a deadline in the past.
      const msg: GuardMessage = armed ? { type: 'arm', deadlineMonoMs: Number.isFinite(deadlineMonoMs) ? deadlineMonoMs : 0 } : { type: 'disarm' };
      if (JSON.stringify(msg) === JSON.stringify(last)) return;
      last = msg;
      send(msg);
    },
    async close() {
      closing = true;
      const c = child;
      if (!c || c.exitCode !== null) return;
      const exited = new Promise<void>((r) => c.once('exit', () => r()));
      send({ type: 'exit' });
      await Promise.race([exited, new Promise((r) => setTimeout(r, 2_000))]);
    },
    pid: () => child?.pid ?? null,
  };
}
