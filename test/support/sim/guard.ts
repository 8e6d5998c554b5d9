// The fence guard process of a node (src/fence/fence-guard.ts): a process of its own that holds the
// deadline the agent feeds it and kills the postmaster when it passes, using the real fence timer.
// - It outlives a killed agent (kill -9 of the agent alone, PostgreSQL left running): the next
//   agent run reads its deadline and lease as the hand-over (src/fence/fence-guard-client.ts) and
//   feeds the same guard from then on, as the real new guard takes the old one's place.
// - It dies with its node (crash) and with a clean halt.
// - When it dies alone, the agent's guard client starts a new one 200 ms later, on the agent's
//   time (a frozen agent restarts it only when it resumes), with the last message it sent.
import { pino } from 'pino';
import { createFenceTimer } from '../../../src/fence/fence-timer.js';
import { crash } from './fake-pg.js';
import { FENCE_MAX_MS, log, nowMs, type SimNode, type WorldState } from './model.js';
import type { Owner } from './vtime.js';

const silent = pino({ enabled: false });

export interface GuardMessage {
  readonly armed: boolean;
  readonly deadline: number;
  readonly leaseId: string | null;
}

export interface SimGuard {
  readonly owner: Owner;
  /** The last message it got (what its hand-over record holds). */
  last: GuardMessage | null;
  update(msg: GuardMessage): void;
}

/** Start a guard process for node n, armed with `last` when given (a restart by the guard client). */
export function launchGuard(w: WorldState, n: SimNode, last: GuardMessage | null = null): SimGuard {
  const owner = w.vt.owner(`${n.name}/guard`);
  const timer = createFenceTimer({
    clock: w.vt.clock, logger: silent, timers: owner.timers(),
    fence: (reason) => {
      w.world.after(w.rng.int(20, FENCE_MAX_MS), () => {
        if (!n.pg.running) return;
        crash(n.pg);
        w.stats.fences++;
        log(w, `${n.name} fence guard: ${reason}`);
      });
    },
  });
  const guard: SimGuard = {
    owner, last: null,
    update(msg) {
      guard.last = msg;
      timer.update(msg.armed, msg.deadline);
    },
  };
  if (last !== null) guard.update(last);
  return guard;
}

/** What a starting agent run finds of the previous run's guard: a live armed deadline and the lease. */
export function handoverOf(w: WorldState, n: SimNode): { deadline: number | null; leaseId: string | null } {
  const last = n.guard?.last ?? null;
  if (last === null) return { deadline: null, leaseId: null };
  return { deadline: last.armed && last.deadline > nowMs(w) ? last.deadline : null, leaseId: last.leaseId };
}

/** The guard process dies (killed, OOM); its client in the agent starts a new one 200 ms later. */
export function killGuard(w: WorldState, n: SimNode): void {
  const guard = n.guard;
  if (guard === null) return;
  guard.owner.kill();
  n.guard = null;
  const agent = n.agent;
  agent?.owner.after(200, () => {
    if (n.agent !== agent || n.guard !== null) return;
    n.guard = launchGuard(w, n, guard.last);
    log(w, `${n.name} fence guard restarted by its agent`);
  });
}

/** The node's guard goes with it (node crash, or a clean halt that closed it). */
export function closeGuard(n: SimNode): void {
  n.guard?.owner.kill();
  n.guard = null;
}
