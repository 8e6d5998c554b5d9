// The executor records an action that failed and goes on; an action it does not know is no failure
// of the world but of the agent: it throws InvariantViolation, which the tick policy ends the agent on.
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { Action } from '../../../src/core/decide-types.js';
import type { LocalPg } from '../../../src/core/local-pg.js';
import { InvariantViolation } from '../../../src/errors.js';
import { Executor, type ExecutorDeps } from '../../../src/loop/executor.js';
import { tickFailure } from '../../../src/loop/tick-policy.js';

const local = { kind: 'down' } as unknown as LocalPg;

function executor(dcs: Partial<ExecutorDeps['dcs']>): Executor {
  return new Executor({
    dcs: dcs as ExecutorDeps['dcs'], pg: {} as ExecutorDeps['pg'], jobs: {} as ExecutorDeps['jobs'],
    clock: { monoMs: () => 0, wallNowMs: () => 0 } as unknown as ExecutorDeps['clock'], logger: pino({ level: 'silent' }),
    selfName: 'n1', bootstrapDcs: () => ({}) as never, dynamicConfig: () => ({}) as never,
  });
}

describe('Executor', () => {
  it('records a failed action and runs the ones after it', async () => {
    const deleted: number[] = [];
    const ex = executor({
      releaseLeader: () => Promise.reject(new Error('etcd unavailable')),
      deleteFailover: (rev) => { deleted.push(rev ?? -1); return Promise.resolve(true); },
    });
    const r = await ex.run([{ kind: 'releaseLeader' }, { kind: 'deleteFailover', modRevision: 7 }], local);
    expect(r.failures).toEqual([{ action: 'releaseLeader', error: 'etcd unavailable' }]);
    expect(r.undone).toEqual(['releaseLeader']);
    expect(deleted).toEqual([7]);
  });

  it('throws InvariantViolation on an action it does not know, and the tick policy halts with 70', async () => {
    const ex = executor({});
    const err = await ex.run([{ kind: 'reticulateSplines' } as unknown as Action], local).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvariantViolation);
    expect((err as Error).message).toContain('reticulateSplines');
    expect(tickFailure(err)).toEqual({ kind: 'halt', exitCode: 70 });
  });
});
