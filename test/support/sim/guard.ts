// The fence guard process of a node: the real GuardLogic (src/fence/guard-logic.ts, what
// src/fence/fence-guard.ts runs) on an owner of its own, spawned by the real guard client
// (src/fence/fence-guard-client.ts) through the spawner below. Only the process is a model:
// - the pipe: messages reach the guard on its own time (a killed agent's last ones still arrive),
//   and the pipe closes when the agent exits or dies;
// - the hand-over record: the node's state file (`n.guardFile`, the real codec), which outlives
//   every process; a pid counts as a guard while that guard object has not exited;
// - the fence: the postmaster dies 20-350 ms after the guard's SIGQUIT (on the world's time: a
//   signal sent is not taken back when the guard dies);
// - it dies with its node (crash) or alone (fault `guardDeath`); the client starts a new one.
import type { GuardChannel, GuardSpawner } from '../../../src/fence/fence-guard-client.js';
import { encodeHandover, parseHandover } from '../../../src/fence/fence-guard-protocol.js';
import { GuardLogic } from '../../../src/fence/guard-logic.js';
import { crash } from './fake-pg.js';
import { FENCE_MAX_MS, log, nowMs, type SimNode, type WorldState } from './model.js';
import type { Owner } from './vtime.js';

export interface SimGuard {
  readonly pid: number;
  readonly owner: Owner;
  readonly logic: GuardLogic;
  /** The process ends without fencing (SIGTERM by a newer guard, SIGKILL, its node's crash). */
  die(): void;
}

/** Guard pids per world (deterministic: a seed replays the same pids). */
const lastPid = new WeakMap<WorldState, number>();

function fenceOf(w: WorldState, n: SimNode): (lateMs: number) => Promise<void> {
  return (lateMs) => new Promise((resolve) => {
    if (n.pg.running) n.pg.fenceSentAtMs = nowMs(w);
    w.world.after(w.rng.int(20, FENCE_MAX_MS), () => {
      if (n.pg.running) {
        crash(n.pg);
        w.stats.fences++;
        log(w, `${n.name} fence guard: lease deadline passed, fenced postgresql (${lateMs} ms late)`);
      }
      resolve();
    });
  });
}

/** Spawn a guard process on node n: it takes over from the guard its record names, if alive. */
function spawnGuard(w: WorldState, n: SimNode): { guard: SimGuard; exited: Promise<{ code: number | null; signal: string | null }> } {
  const pid = (lastPid.get(w) ?? 1_000) + 1;
  lastPid.set(w, pid);
  const owner = w.vt.owner(`${n.name}/guard${pid}`);
  let exitedWith: (v: { code: number | null; signal: string | null }) => void = () => undefined;
  const exited = new Promise<{ code: number | null; signal: string | null }>((r) => { exitedWith = r; });
  const end = (code: number | null, signal: string | null): void => {
    if (owner.dead) return;
    owner.kill();
    if (n.guard === guard) n.guard = null;
    exitedWith({ code, signal });
  };
  const logic = new GuardLogic({
    clock: w.vt.clock, timers: owner.timers(), fence: fenceOf(w, n),
    postmasterAlive: () => n.pg.running,
    save: (s) => { n.guardFile = encodeHandover({ pid, ...s }); },
    exit: () => end(0, null),
    log: (msg) => { if (process.env['SIM_LOG_NODE'] === n.name) log(w, `${n.name} fence guard: ${msg}`); },
  });
  const guard: SimGuard = { pid, owner, logic, die: () => end(null, 'SIGKILL') };
  const previous = logic.takeOver(n.guardFile === null ? null : parseHandover(n.guardFile), pid, (p) => n.guard?.pid === p);
  if (previous !== null) n.guard?.die();
  n.guard = guard;
  logic.start();
  return { guard, exited };
}

/**
 * The spawner an agent run hands the real guard client, and the run's death: every pipe it opened
 * closes (kill -9 of the agent, its node's crash, its exit).
 */
export function guardSpawner(w: WorldState, n: SimNode): { spawn: GuardSpawner; agentDied(): void } {
  const open = new Set<() => void>();
  const spawn: GuardSpawner = (): GuardChannel => {
    const { guard, exited } = spawnGuard(w, n);
    let closed = false;
    const close = (): void => {
      if (closed) return;
      closed = true;
      open.delete(close);
      guard.owner.after(0, () => guard.logic.channelClosed());
    };
    open.add(close);
    return {
      pid: guard.pid,
      send: (msg) => { if (!closed) guard.owner.after(0, () => guard.logic.message(msg)); },
      end: () => { close(); return Promise.resolve(); },
      exited,
      hasExited: () => guard.owner.dead,
    };
  };
  return { spawn, agentDied: () => { for (const close of [...open]) close(); } };
}

/** Whether pid is the node's live guard (the client's check of the record's pid, /proc/<pid>/cmdline). */
export function isLiveGuard(n: SimNode, pid: number): boolean {
  return n.guard?.pid === pid;
}

/** The guard process dies alone (killed, OOM); its client in the agent starts a new one 200 ms later. */
export function killGuard(n: SimNode): void {
  n.guard?.die();
}

/** The node's guard goes with it (node crash). */
export function closeGuard(n: SimNode): void {
  n.guard?.die();
}

/** Whether the node's guard holds a deadline now. */
export function guardArmed(n: SimNode): boolean {
  return n.guard?.logic.state().armed === true;
}
