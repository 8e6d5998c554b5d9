// The S1 enforcers' wiring: arm the fence timer and the guard from what the postmaster and the
// lease keeper say right now (src/core/fencing.ts decides), and answer an early end of leadership
// at once: take the key back with one create-if-absent transaction, or fence.
import type { Logger } from 'pino';
import type { Clock } from '../core/clock.js';
import { fenceArming, onLeadershipLost, type Arming } from '../core/fencing.js';
import type { Dcs } from '../dcs/port.js';
import { postmasterWriteState } from '../postgres/files.js';
import type { FenceTimer } from './fence-timer.js';
import { systemTimers, type Timers } from '../time/timers.js';
import { asError } from '../errors.js';

/** How long the retake after an early loss may take before we fence instead. */
export const RETAKE_BOUND_MS = 500;

export interface FencingDeps {
  readonly dcs: Dcs;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly dataDir: string;
  /** Until this run reads etcd: as the previous run last saw it (ViewStore). */
  readonly paused: () => boolean;
  /** What this run has read from etcd (ArmingInput.etcd). */
  readonly etcdRead: () => 'read' | 'pending' | 'unreadable';
  /** A job that starts PostgreSQL writable is running (see ArmingInput.startingWritable). */
  readonly startingWritable?: () => boolean;
  readonly fenceTimer: FenceTimer;
  readonly guard: {
    update(armed: boolean, deadlineMonoMs: number, leaseId: string | null, paused?: boolean): void;
    handedOverDeadline(): number | null;
    /** The lease the previous agent run proved the leader key under (null: none, or its record was refused). */
    handedOverLeaseId(): string | null;
  };
  /** The fence itself (the fence timer's path): stops PostgreSQL at once. */
  readonly fence: (reason: string) => void;
  /** Something changed that the loop should look at now. */
  readonly wake: () => void;
  /** Default Node's timers and the postmaster of dataDir; the simulator injects its own. */
  readonly timers?: Timers;
  readonly postmaster?: () => { readonly alive: boolean; readonly mayBeWritable: boolean };
}

export class Fencing {
  private handedOver: number | null;
  /** Forwarded to our guard until we prove the key ourselves: a run killed before re-attaching hands it on. */
  private handedOverLease: string | null;
  private retaking = false;
  private inFlight: Promise<void> = Promise.resolve();
  private last: Arming | null = null;
  private readonly unsubscribe: () => void;
  private readonly postmaster: () => { readonly alive: boolean; readonly mayBeWritable: boolean };

  constructor(private readonly deps: FencingDeps) {
    this.postmaster = deps.postmaster ?? (() => postmasterWriteState(deps.dataDir));
    this.handedOver = deps.guard.handedOverDeadline();
    this.handedOverLease = deps.guard.handedOverLeaseId();
    this.unsubscribe = deps.dcs.onLeadershipLost((cause) => { this.inFlight = this.lost(cause); });
  }

  /** Arm or disarm both enforcers from the current state. Returns what was applied. */
  apply(): Arming {
    const { dcs, clock } = this.deps;
    const leadership = dcs.leadership();
    if (leadership !== null) {
      // Proven for ourselves: the old deadline and lease are history.
      this.handedOver = null;
      this.handedOverLease = null;
    }
    if (this.handedOver !== null && this.handedOver <= clock.monoMs()) this.handedOver = null;
    const pm = this.postmaster();
    const paused = this.deps.paused();
    const arming = fenceArming({
      paused,
      etcd: this.deps.etcdRead(),
      postmasterAlive: pm.alive,
      postmasterMayBeWritable: pm.mayBeWritable,
      leadershipDeadlineMs: leadership?.validUntilMs ?? null,
      handedOverDeadlineMs: this.handedOver,
      startingWritable: this.deps.startingWritable?.() ?? false,
    });
    // While an early loss is being answered, the old deadline stays: the retake is bounded and
    // ends in a proven lease or a fence.
    if (this.retaking) return this.last ?? arming;
    if (this.last?.armed !== arming.armed || this.last.deadlineMs !== arming.deadlineMs) {
      if (this.last?.armed !== arming.armed) this.deps.logger.info({ armed: arming.armed, reason: arming.reason }, arming.armed ? 'fence armed' : 'fence disarmed');
      this.last = arming;
    }
    this.deps.fenceTimer.update(arming.armed, arming.deadlineMs);
    this.deps.guard.update(arming.armed, arming.deadlineMs, leadership?.leaseId ?? this.handedOverLease, paused);
    return arming;
  }

  /** The previous run's deadline while it is still in force (not yet replaced by our own lease). */
  handedOverDeadline(): number | null {
    return this.handedOver;
  }

  /** Resolves once an answer to an early loss (retake or fence) in flight has ended. */
  settled(): Promise<void> {
    return this.inFlight.catch(() => undefined);
  }

  /** The fence timer checks its deadline now (first thing in a tick: a resumed process fences before anything else). */
  checkNow(): boolean {
    return this.deps.fenceTimer.checkNow();
  }

  /** The leader key under our name no longer hangs on the lease we keep alive (S1: never a tick of deciding while writable). */
  private async lost(cause: string): Promise<void> {
    const log = this.deps.logger;
    const base = { cause, paused: this.deps.paused(), postmasterMayBeWritable: this.postmaster().mayBeWritable, startingWritable: this.deps.startingWritable?.() ?? false };
    let response = onLeadershipLost({ ...base, retake: 'not tried' });
    log.warn({ cause, response: response.kind }, response.reason);
    if (response.kind === 'retake') {
      this.retaking = true;
      const t0 = this.deps.clock.monoMs();
      let won = false;
      try {
        // Raced against a timer too: a keepalive stuck on a stalled member may hold the lease lock.
        const bound = new Promise<boolean>((resolve) => (this.deps.timers ?? systemTimers).setTimeout(() => resolve(false), RETAKE_BOUND_MS).unref?.());
        won = await Promise.race([this.deps.dcs.acquireLeader(AbortSignal.timeout(RETAKE_BOUND_MS)), bound]);
      } catch (err) {
        log.warn({ err: asError(err) }, 'taking the leader key back failed');
      } finally {
        this.retaking = false;
      }
      response = onLeadershipLost({ ...base, retake: won ? 'won' : 'failed' });
      log.warn({ cause, response: response.kind, durationMs: Math.round(this.deps.clock.monoMs() - t0) }, response.reason);
    }
    if (response.kind === 'fence') this.deps.fence(response.reason);
    this.apply();
    this.deps.wake();
  }

  close(): void {
    this.unsubscribe();
    this.deps.fenceTimer.close();
  }
}

