// Operator requests on their way from the REST API to decide(): the API queues one and waits; the
// next tick takes the queue into DecideInput.requests and settles each with decide()'s answer (and,
// for a started job, the promise of its end).
import type { FinishedJob, JobSpec } from '../core/decide-types.js';
import type { OperatorRequest, RequestAnswer } from '../core/requests.js';

export type Settled =
  | { readonly kind: 'started'; readonly done: Promise<FinishedJob> }
  | { readonly kind: 'not_needed' | 'cancelled' | 'refused'; readonly reason: string };

type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;
export type RequestAsk = WithoutId<OperatorRequest>;

export class RequestQueue {
  private nextId = 1;
  private queued: Array<{ readonly req: OperatorRequest; readonly settle: (s: Settled) => void }> = [];
  private readonly asked = new Map<number, (s: Settled) => void>();

  /** wake: the loop ticks at once instead of after loop_wait. */
  constructor(private readonly wake: () => void) {}

  ask(ask: RequestAsk): { readonly id: number; readonly answer: Promise<Settled> } {
    const req = { ...ask, id: this.nextId++ } as OperatorRequest;
    const answer = new Promise<Settled>((settle) => { this.queued.push({ req, settle }); });
    this.wake();
    return { id: req.id, answer };
  }

  /** The caller gave up waiting: a request no tick has taken yet is dropped (one already taken runs). */
  withdraw(id: number): void {
    this.queued = this.queued.filter((q) => q.req.id !== id);
  }

  /** For the tick's DecideInput. */
  take(): OperatorRequest[] {
    const taken = this.queued;
    this.queued = [];
    for (const q of taken) this.asked.set(q.req.id, q.settle);
    return taken.map((q) => q.req);
  }

  /**
   * After the tick's actions ran: each taken request gets decide()'s answer. A job decided but not
   * started (a guard earlier in the list lost its compare, the tick failed) is reported as such.
   */
  settle(answers: readonly RequestAnswer[], started: ReadonlyMap<JobSpec, Promise<FinishedJob>>): void {
    for (const a of answers) {
      const settle = this.asked.get(a.id);
      if (settle === undefined) continue;
      this.asked.delete(a.id);
      if (a.kind !== 'started') { settle({ kind: a.kind, reason: a.reason }); continue; }
      const done = started.get(a.job);
      settle(done !== undefined ? { kind: 'started', done } : { kind: 'refused', reason: `the ${a.job.kind} job could not be started this tick; try again` });
    }
    this.close('the agent did not get to this request; try again');
  }

  /** Answers whatever is still waiting (the agent is stopping, a tick failed). */
  close(reason: string): void {
    for (const settle of this.asked.values()) settle({ kind: 'refused', reason });
    this.asked.clear();
  }

  /** The way out: nothing queued will be answered by a tick any more. */
  closeAll(reason: string): void {
    this.close(reason);
    for (const q of this.queued) q.settle({ kind: 'refused', reason });
    this.queued = [];
  }
}
