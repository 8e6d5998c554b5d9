// The agent's side of the fence guard: spawn it, feed it the deadline, restart it if it dies. The
// logic runs over a spawner (a child process here; the simulator spawns its model of the process
// around the same GuardLogic) and the Timers seam.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { parseHandover, type GuardMessage } from './fence-guard-protocol.js';
import { systemTimers, type Timers } from '../time/timers.js';

/** What the previous agent run on this data dir left for this one (read once, before our guard starts). */
export interface Handover {
  /** The armed deadline its guard still holds (that guard is alive); null otherwise. */
  readonly deadlineMonoMs: number | null;
  /** The lease it last proved the leader key under: the only foreign lease we may re-attach from. */
  readonly leaseId: string | null;
  /** It last saw pause (SPEC 5.8): until etcd is read, the operator still holds the fence. */
  readonly paused: boolean;
  /** Set when the record could not be read (another format version): nothing above is trusted. */
  readonly refused: string | null;
}

export const NO_HANDOVER: Handover = { deadlineMonoMs: null, leaseId: null, paused: false, refused: null };

export interface FenceGuard {
  /**
   * leaseId: the lease the leader key is proven under (or the handed-over one, until re-attached);
   * paused: disarmed because the operator holds the fence (kept in the record for the next run).
   */
  update(armed: boolean, deadlineMonoMs: number, leaseId: string | null, paused?: boolean): void;
  /**
   * The deadline a previous agent run's guard still held when this run started (restart in place),
   * which the new guard took over; null when there was none or it was disarmed.
   */
  handedOverDeadline(): number | null;
  /** The lease the previous run proved the leader key under; null when none or refused. */
  handedOverLeaseId(): string | null;
  /** Everything the previous run handed over (deadline, lease id, or why it was refused). */
  handover(): Handover;
  /** Clean exit: tell the guard to leave without fencing. */
  close(): Promise<void>;
  pid(): number | null;
}

/** handover: read by the caller before anything else (readHandover), or here; always before our guard starts. */
export function startFenceGuard(deps: GuardDeps): FenceGuard {
  // Nothing is sent until the first tick knows (last: null): a new guard may have taken over a live
  // deadline from the guard of a previous (killed) agent, and an early "disarm" would drop it.
  const g: GuardState = { deps, spawn: deps.spawn ?? processSpawner(deps.dataDir), timers: deps.timers ?? systemTimers, child: null, last: null, closing: false };
  const handover = deps.handover ?? readHandover(deps.dataDir);
  logHandover(deps.logger, handover);
  launch(g);

  return {
    update: (armed, deadlineMonoMs, leaseId, paused) => update(g, armed, deadlineMonoMs, leaseId, paused === true),
    close: () => close(g),
    pid: () => g.child?.pid ?? null,
    handedOverDeadline: () => handover.deadlineMonoMs,
    handedOverLeaseId: () => handover.leaseId,
    handover: () => handover,
  };
}

/** One running guard process, as its agent sees it: the pipe's write end and its exit. */
export interface GuardChannel {
  readonly pid: number | null;
  send(msg: GuardMessage): void;
  /** Close our end of the pipe; resolves once what was written is flushed. */
  end(): Promise<void>;
  /** Resolves when the process has exited. */
  readonly exited: Promise<{ readonly code: number | null; readonly signal: string | null }>;
  hasExited(): boolean;
}

export type GuardSpawner = () => GuardChannel;

interface GuardDeps {
  readonly dataDir: string;
  readonly logger: Logger;
  readonly handover?: Handover;
  /** Default: the fence guard process on dataDir. */
  readonly spawn?: GuardSpawner;
  readonly timers?: Timers;
}

interface GuardState {
  readonly deps: GuardDeps;
  readonly spawn: GuardSpawner;
  readonly timers: Timers;
  child: GuardChannel | null;
  last: GuardMessage | null;
  closing: boolean;
}

function logHandover(logger: Logger, handover: Handover): void {
  if (handover.refused !== null) {
    logger.error({ reason: handover.refused },
      'refusing the hand-over state of the previous agent run: its lease is not trusted, so the leader key is not re-attached; a writable postgresql is fenced and this node joins as a replica');
  } else if (handover.deadlineMonoMs !== null) {
    logger.info({ deadlineMonoMs: Math.round(handover.deadlineMonoMs), leaseId: handover.leaseId },
      'a previous agent run left an armed fence guard: its deadline stays in force until the leader key is re-attached');
  } else if (handover.leaseId !== null) {
    logger.info({ leaseId: handover.leaseId }, 'a previous agent run held the leader key under this lease; it may be re-attached');
  }
  if (handover.paused) logger.info('the previous agent run last saw pause: until etcd is read, the operator holds the fence (SPEC 5.8)');
}

/** The fence guard process on dataDir, its stdin our pipe. */
function processSpawner(dataDir: string): GuardSpawner {
  const script = fileURLToPath(new URL('../bin/fence-guard.js', import.meta.url));
  return () => {
    // Detached: its own process group, so a signal aimed at the agent's group does not reach it.
    const c = spawn(process.execPath, [script, dataDir], { stdio: ['pipe', 'ignore', 'inherit'], detached: true });
    c.unref();
    c.stdin?.on('error', () => undefined);
    return {
      pid: c.pid ?? null,
      send: (msg) => {
        if (c.stdin?.writable) c.stdin.write(`${JSON.stringify(msg)}\n`);
      },
      end: () => new Promise<void>((r) => (c.stdin ? c.stdin.end(() => r()) : r())),
      exited: new Promise((r) => c.once('exit', (code, signal) => r({ code, signal }))),
      hasExited: () => c.exitCode !== null || c.signalCode !== null,
    };
  };
}

/** After the guard died, how long before it is started again. */
export const GUARD_RESTART_DELAY_MS = 200;

function send(g: GuardState, msg: GuardMessage | null): void {
  if (msg && g.child !== null) g.child.send(msg);
}

function launch(g: GuardState): void {
  const { deps } = g;
  const c = g.spawn();
  g.child = c;
  deps.logger.info({ pid: c.pid }, 'fence guard started');
  void c.exited.then(({ code, signal }) => {
    if (g.child === c) g.child = null;
    if (g.closing) return;
    deps.logger.warn({ code, signal }, 'fence guard exited; restarting it');
    g.timers.setTimeout(() => {
      if (!g.closing) launch(g);
    }, GUARD_RESTART_DELAY_MS).unref?.();
  });
  send(g, g.last);
}

function update(g: GuardState, armed: boolean, deadlineMonoMs: number, leaseId: string | null, paused: boolean): void {
  // JSON has no -Infinity: an armed guard without a lease gets a deadline in the past.
  const msg: GuardMessage = armed ? { type: 'arm', deadlineMonoMs: Number.isFinite(deadlineMonoMs) ? deadlineMonoMs : 0, leaseId } : { type: 'disarm', leaseId, paused };
  if (JSON.stringify(msg) === JSON.stringify(g.last)) return;
  g.last = msg;
  send(g, msg);
}

/** How long a clean exit waits for the guard to leave (or, when armed, for our last messages to be written). */
export const GUARD_CLOSE_BOUND_MS = 2_000;

async function close(g: GuardState): Promise<void> {
  g.closing = true;
  const c = g.child;
  if (!c || c.hasExited()) return;
  send(g, { type: 'exit' });
  // An armed guard stays after we exit (restart in place, or a stop that could not stop
  // PostgreSQL): once our last messages are in its pipe there is nothing to wait for.
  const flushed = c.end();
  const bound = new Promise((r) => g.timers.setTimeout(() => r(undefined), GUARD_CLOSE_BOUND_MS).unref?.());
  await Promise.race([g.last?.type === 'arm' ? flushed : c.exited, bound]);
}

/**
 * The previous guard's state file: its armed deadline if that guard is still alive, and the lease
 * the leader key was last proven under (which outlives the guard: a guard exits when disarmed).
 */
export function readHandover(dataDir: string): Handover {
  let text: string;
  try {
    text = readFileSync(join(dirname(dataDir), `.${basename(dataDir)}.fence-guard.json`), 'utf8');
  } catch {
    return NO_HANDOVER;
  }
  return handoverFrom(text, (pid) => isGuardOf(pid, dataDir));
}

/** The hand-over in a guard's record (null: no record); its deadline counts only while that guard lives. */
export function handoverFrom(text: string | null, isGuard: (pid: number) => boolean): Handover {
  if (text === null) return NO_HANDOVER;
  const parsed = parseHandover(text);
  if (!parsed.ok) return { ...NO_HANDOVER, refused: parsed.reason };
  const rec = parsed.record;
  return { deadlineMonoMs: rec.armed && isGuard(rec.pid) ? rec.deadlineMonoMs : null, leaseId: rec.leaseId, paused: rec.paused, refused: null };
}

function isGuardOf(pid: number, dataDir: string): boolean {
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return cmdline.includes('fence-guard') && cmdline.includes(dataDir);
  } catch {
    return false;
  }
}
