// What the fence guard process does, without the process: it holds the deadline its agent feeds
// it, fences when the deadline passes without a newer one, takes over from a previous run's guard,
// and leaves once its agent is gone and nothing is left to guard. The guard process
// (fence-guard.ts) drives it with Node's timers, signals and files; the simulator drives the same
// class on virtual time (test/support/sim/guard.ts). No I/O here (lint-enforced): only the ports.
import type { Clock } from '../core/clock.js';
import type { Timers, TimerHandle } from '../time/timers.js';
import type { GuardMessage, HandoverParse } from './fence-guard-protocol.js';

/** What the guard knows; the hand-over record on disk is this plus the guard's pid. */
export interface GuardState {
  readonly armed: boolean;
  readonly deadlineMonoMs: number;
  /** The lease the leader key was last proven under (hand-over proof for the next agent run). */
  readonly leaseId: string | null;
  /** The agent last disarmed us for pause (HandoverRecord.paused). */
  readonly paused: boolean;
}

export interface GuardPorts {
  readonly clock: Clock;
  readonly timers: Timers;
  /** Stop the postmaster at once (immediate shutdown, then SIGKILL of its tree); resolves when done. */
  readonly fence: (lateMs: number) => Promise<void>;
  /** A postmaster runs on the guarded data dir. */
  readonly postmasterAlive: () => boolean;
  /** Persist the hand-over record (best effort: fencing does not depend on it). */
  readonly save: (state: GuardState) => void;
  /** End the guard process without fencing. */
  readonly exit: () => void;
  readonly log: (msg: string, fields?: Record<string, unknown>) => void;
}

/** While the agent is gone, how often the guard looks whether anything is left to guard. */
export const GUARD_IDLE_CHECK_MS = 1_000;

export class GuardLogic {
  private armed = false;
  private deadline = -Infinity;
  private leaseId: string | null = null;
  private paused = false;
  private agentGone = false;
  private timer: TimerHandle | null = null;
  private idleTimer: TimerHandle | null = null;
  /** Exited (the simulator's guard object outlives its exit; a process does not). */
  private done = false;

  constructor(private readonly ports: GuardPorts) {}

  state(): GuardState {
    return { armed: this.armed, deadlineMonoMs: this.deadline, leaseId: this.leaseId, paused: this.paused };
  }

  /**
   * Take over from the guard a previous agent run left behind (its record, read at start). Returns
   * the pid of that guard, to be retired (SIGTERM: it leaves without fencing), or null.
   */
  takeOver(prev: HandoverParse | null, selfPid: number, isGuard: (pid: number) => boolean): number | null {
    if (prev === null) return null;
    if (!prev.ok) {
      // A record we cannot read: we do not know its deadline, so we must not retire the guard that
      // holds it. It keeps guarding (and fences at its own deadline); the agent fences a writable
      // PostgreSQL itself once it knows it is not paused, and does not re-attach the leader key.
      if (prev.pid !== null && prev.pid !== selfPid && isGuard(prev.pid)) {
        this.ports.log('refusing the previous fence guard\'s hand-over state; leaving that guard in charge of its own deadline', { previousPid: prev.pid, reason: prev.reason });
      }
      return null;
    }
    const rec = prev.record;
    this.leaseId = rec.leaseId;
    this.paused = rec.paused;
    if (rec.pid === selfPid || !isGuard(rec.pid)) return null;
    if (rec.armed) {
      this.armed = true;
      this.deadline = rec.deadlineMonoMs;
    }
    this.ports.log('took over from the previous fence guard', { previousPid: rec.pid, armed: this.armed, leaseId: this.leaseId, msLeft: this.msLeft() });
    return rec.pid;
  }

  /** After the take-over: guard what we hold and write our record. */
  start(): void {
    this.changed();
  }

  message(msg: GuardMessage): void {
    if (this.done) return;
    if (msg.type === 'arm') {
      this.armed = true;
      this.deadline = msg.deadlineMonoMs;
      this.leaseId = msg.leaseId;
      this.paused = false;
    } else if (msg.type === 'disarm') {
      this.armed = false;
      this.leaseId = msg.leaseId;
      this.paused = msg.paused === true;
    } else {
      // The agent exits. If it still leaves a PostgreSQL we guard (its lease neither released nor
      // proven lost), keep that deadline: leaving now would leave a writable primary unguarded.
      this.ports.log('agent exiting', { armed: this.armed, msLeft: this.msLeft() });
      this.goneAgent();
    }
    this.changed();
  }

  /** The agent's end of the pipe closed (it exited or was killed). */
  channelClosed(): void {
    if (this.done) return;
    this.ports.log('agent closed the channel; guarding until the last deadline', { armed: this.armed, msLeft: this.msLeft() });
    this.goneAgent();
  }

  private msLeft(): number {
    return Math.round(this.deadline - this.ports.clock.monoMs());
  }

  private changed(): void {
    if (this.done) return;
    this.schedule();
    this.ports.save(this.state());
  }

  /** One timer at the deadline (not a poll): the guard costs nothing while the agent is healthy. */
  private schedule(): void {
    if (this.timer) this.ports.timers.clearTimeout(this.timer);
    this.timer = this.armed ? this.ports.timers.setTimeout(this.fire, Math.max(0, this.deadline - this.ports.clock.monoMs())) : null;
  }

  private readonly fire = (): void => {
    this.timer = null;
    if (!this.armed) return;
    const now = this.ports.clock.monoMs();
    if (now < this.deadline) return this.schedule();
    this.armed = false;
    this.ports.save(this.state());
    void this.ports.fence(Math.round(now - this.deadline)).finally(() => {
      if (this.agentGone) this.exit();
    });
  };

  // Once the agent is gone there is nothing to wait for but the deadline or the postmaster's end. A
  // replica being promoted counts as guarded (armed): it may become writable any moment.
  private goneAgent(): void {
    this.agentGone = true;
    if (this.idleTimer === null) this.idleCheck();
  }

  private exit(): void {
    if (this.done) return;
    this.done = true;
    if (this.timer) this.ports.timers.clearTimeout(this.timer);
    if (this.idleTimer) this.ports.timers.clearTimeout(this.idleTimer);
    this.ports.exit();
  }

  private readonly idleCheck = (): void => {
    this.idleTimer = null;
    if (this.done) return;
    if (!this.armed || !this.ports.postmasterAlive()) {
      this.ports.log('agent gone and no postgresql to guard: exiting');
      this.exit();
      return;
    }
    this.idleTimer = this.ports.timers.setTimeout(this.idleCheck, GUARD_IDLE_CHECK_MS);
  };
}
