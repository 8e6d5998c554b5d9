// One error shape for the agent's failures (DESIGN.md "Errors and logs"): code, retryable, cause,
// and a log line that keeps the type and code instead of a bare message.
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/config/errors.js';
import { DcsError } from '../../../src/dcs/port.js';
import { AgentError, asError, errorMessage } from '../../../src/errors.js';
import { RunnerError } from '../../../src/exec/runner.js';
import { createRootLogger } from '../../../src/obs/logger.js';
import { PgError } from '../../../src/postgres/errors.js';

describe('AgentError', () => {
  it('every adapter error is one, with its stable code, retryable and cause', () => {
    const cause = new Error('ECONNREFUSED');
    const errs: AgentError[] = [
      new PgError('start-failed', 'PostgreSQL did not start', { cause }),
      new DcsError('unavailable', 'etcd unreachable', { cause }),
      new RunnerError('aborted', 'pg_ctl', 'aborted', cause),
      new ConfigError([{ path: 'ttl', message: 'must be a number' }]),
    ];
    for (const e of errs) expect(e).toBeInstanceOf(AgentError);
    expect(errs.map((e) => [e.name, e.code, e.retryable])).toEqual([
      ['PgError', 'start-failed', false],
      ['DcsError', 'unavailable', true],
      ['RunnerError', 'aborted', true],
      ['ConfigError', 'CONFIG_INVALID', false],
    ]);
    expect(errs.slice(0, 3).every((e) => e.cause === cause)).toBe(true);
  });

  it('a thrown non-Error becomes an Error for the log; its message is the text', () => {
    expect(asError('boom')).toBeInstanceOf(Error);
    expect(errorMessage('boom')).toBe('boom');
    expect(errorMessage(new DcsError('deadline', 'range timed out'))).toBe('range timed out');
  });

  it('logged as err, a failure keeps its type, code, retryable and cause', () => {
    const lines: string[] = [];
    const log = createRootLogger({ level: 'info', node: 'n1', scope: 's', destination: { write: (s: string) => { lines.push(s); } } });
    log.warn({ err: asError(new PgError('query-failed', 'observation query failed', { cause: new Error('timeout') })) }, 'action failed');
    const line = JSON.parse(lines[0] ?? '{}') as { err?: Record<string, unknown> };
    expect(line.err).toMatchObject({ type: 'PgError', code: 'query-failed', retryable: true, message: 'observation query failed: timeout' });
    expect(String(line.err?.['stack'])).toContain('caused by: Error: timeout');
  });
});
