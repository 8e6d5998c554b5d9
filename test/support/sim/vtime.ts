// Virtual time for the simulator: one FakeClock for the whole cluster and one event queue per
// owner (an agent process, its fence guard, the "world": etcd and the PostgreSQL servers). The real
// loop's timers, its etcd replies and its PostgreSQL calls are events here, so:
// - nothing waits on real time, and a seed replays exactly (events run in (time, sequence) order,
//   and every promise continuation of one event runs before the next event);
// - a frozen agent (SIGSTOP) is an owner whose events are held: its timers fire and its replies
//   arrive only when it resumes, late, as in a resumed process;
// - a crashed agent is an owner whose events are dropped: its pending promises never settle.
import { FakeClock } from '../fakes/fake-clock.js';
import type { TimerHandle, Timers } from '../../../src/time/timers.js';

interface VEvent extends TimerHandle {
  readonly at: number;
  readonly seq: number;
  readonly fn: () => void;
  cancelled: boolean;
}

export class Owner {
  readonly queue: VEvent[] = [];
  heldUntilMs = 0;
  dead = false;

  constructor(readonly name: string, private readonly vt: VirtualTime) {}

  /** Run fn `ms` from now on this owner (held while it is frozen, dropped once it is dead). */
  after(ms: number, fn: () => void): VEvent {
    return this.vt.schedule(this, ms, fn);
  }

  /** A reply or result delivered to this owner after `ms`: fn's value, or its exception. */
  deliver<T>(ms: number, fn: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.after(ms, () => {
        try {
          resolve(fn());
        } catch (err) {
          reject(err);
        }
      });
    });
  }

  /** The Timers seam of src/time/timers.ts on this owner. */
  timers(): Timers {
    return {
      setTimeout: (fn, ms) => this.after(Math.max(0, ms), fn),
      clearTimeout: (h) => { (h as VEvent).cancelled = true; },
    };
  }

  kill(): void {
    this.dead = true;
    this.queue.length = 0;
  }
}

const NO_OP = (): void => undefined;
const drain = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class VirtualTime {
  readonly clock = new FakeClock({ monoMs: 0, wallNowMs: Date.UTC(2026, 0, 1) });
  private readonly owners: Owner[] = [];
  private seq = 0;

  owner(name: string): Owner {
    const o = new Owner(name, this);
    this.owners.push(o);
    return o;
  }

  get nowMs(): number {
    return this.clock.monoMs();
  }

  schedule(owner: Owner, ms: number, fn: () => void): VEvent {
    const ev: VEvent = { at: this.nowMs + ms, seq: this.seq++, fn, cancelled: false, unref: NO_OP };
    if (owner.dead) return ev;
    const q = owner.queue;
    let i = q.length;
    while (i > 0 && (q[i - 1] as VEvent).at > ev.at) i--;
    q.splice(i, 0, ev);
    return ev;
  }

  /** The next event to run at or before `until`, with the time it runs at (a held owner's are late). */
  private next(until: number): { owner: Owner; ev: VEvent; at: number } | null {
    let best: { owner: Owner; ev: VEvent; at: number } | null = null;
    for (const owner of this.owners) {
      while (owner.queue.length > 0 && (owner.queue[0] as VEvent).cancelled) owner.queue.shift();
      const ev = owner.queue[0];
      if (ev === undefined) continue;
      const at = Math.max(ev.at, owner.heldUntilMs);
      if (at > until) continue;
      if (best === null || at < best.at || (at === best.at && ev.seq < best.ev.seq)) best = { owner, ev, at };
    }
    return best;
  }

  /** Run every event due up to `until` in order, letting each one's continuations settle; then stand at `until`. */
  async runUntil(until: number): Promise<void> {
    for (;;) {
      const n = this.next(until);
      if (n === null) break;
      n.owner.queue.shift();
      if (n.at > this.nowMs) this.clock.advance(n.at - this.nowMs);
      n.ev.fn();
      await drain();
    }
    if (until > this.nowMs) this.clock.advance(until - this.nowMs);
    await drain();
  }

  /** Forget owners that are dead (crashed agents), so the scan stays short. */
  prune(): void {
    for (let i = this.owners.length - 1; i >= 0; i--) if ((this.owners[i] as Owner).dead) this.owners.splice(i, 1);
  }
}
