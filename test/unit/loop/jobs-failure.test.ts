// How a failed job reaches decide(): read from the error's type and code, never from loose fields.
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { FinishedJob, JobSpec } from '../../../src/core/decide-types.js';
import { AgentError } from '../../../src/errors.js';
import { createJobRunner, type JobDeps } from '../../../src/loop/jobs.js';
import { PgError } from '../../../src/postgres/errors.js';

const leader = { name: 'n1', host: '127.0.0.1', port: 5432, apiUrl: 'http://127.0.0.1:8008/patroni' } as never;

async function failWith(err: unknown): Promise<FinishedJob> {
  const pg = { rejoin: () => Promise.reject(err) } as unknown as JobDeps['pg'];
  const runner = createJobRunner({
    pg, dcs: {} as JobDeps['dcs'], clock: { monoMs: () => 0, wallNowMs: () => 0 } as unknown as JobDeps['clock'],
    logger: pino({ level: 'silent' }), dynamicConfig: () => ({}) as never, onFinished: () => undefined, peerHttp: {} as JobDeps['peerHttp'],
  });
  return runner.start({ kind: 'rejoin', leader } as JobSpec);
}

describe('a failed job', () => {
  it('a rewind verdict is final and marked rewindFailed', async () => {
    const done = await failWith(new PgError('rewind-verdict', 'rejoin failed: pg_rewind exited 1'));
    expect(done).toMatchObject({ ok: false, retryable: false, rewindFailed: true, error: 'rejoin failed: pg_rewind exited 1' });
  });

  it('a retryable AgentError is retryable, and nothing else is marked', async () => {
    const done = await failWith(new PgError('rewind-failed', 'leader unreachable', { retryable: true }));
    expect(done).toMatchObject({ ok: false, retryable: true });
    expect(done.rewindFailed).toBeUndefined();
    expect(done.unclaimed).toBeUndefined();
    expect((await failWith(new AgentError('x', 'y', { retryable: true }))).retryable).toBe(true);
  });

  it('loose fields on a plain error count for nothing', async () => {
    const done = await failWith(Object.assign(new Error('odd'), { retryable: true, rewindFailed: true, unclaimed: true, stage: 'history' }));
    expect(done).toMatchObject({ ok: false, retryable: false, error: 'odd' });
    expect(done.rewindFailed).toBeUndefined();
    expect(done.unclaimed).toBeUndefined();
    expect(done.stage).toBeUndefined();
  });
});
