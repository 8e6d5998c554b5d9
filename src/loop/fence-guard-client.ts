// The agent's side of the fence guard: spawn it, feed it the deadline, restart it if it dies.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import type { GuardMessage } from '../core/fence-guard-protocol.js';

export interface FenceGuard {
  update(armed: boolean, deadlineMonoMs: number): void;
  /**
   * The deadline a previous agent run's guard still held when this run started (restart in place),
   * which the new guard took over; null when there was none or it was disarmed.
   */
  handedOverDeadline(): number | null;
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
  const handedOver = readHandover(deps.dataDir);
  if (handedOver !== null) deps.logger.info({ deadlineMonoMs: Math.round(handedOver) }, 'a previous agent run left an armed fence guard: its deadline stays in force until the leader key is re-attached');

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
    handedOverDeadline: () => handedOver,
  };
}

/** The armed deadline in the previous guard's state file, if that guard is still alive. */
function readHandover(dataDir: string): number | null {
  try {
    const file = join(dirname(dataDir), `.${basename(dataDir)}.fence-guard.json`);
    const prev = JSON.parse(readFileSync(file, 'utf8')) as { pid?: unknown; armed?: unknown; deadlineMonoMs?: unknown };
    if (typeof prev.pid !== 'number' || prev.armed !== true || typeof prev.deadlineMonoMs !== 'number') return null;
    const cmdline = readFileSync(`/proc/${prev.pid}/cmdline`, 'utf8');
    return cmdline.includes('fence-guard') && cmdline.includes(dataDir) ? prev.deadlineMonoMs : null;
  } catch {
    return null;
  }
}
