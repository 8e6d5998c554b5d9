import { describe, expect, it } from 'vitest';
import { CENSOR, componentLogger, createRootLogger, scrubSecrets, scrubString } from '../../../src/obs/logger.js';

function capture(level = 'debug') {
  const lines: string[] = [];
  const logger = createRootLogger({ level, node: 'node1', scope: 'pgha', destination: { write: (s: string) => { lines.push(s); } } });
  const records = (): Record<string, unknown>[] => lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  return { logger, lines, records };
}

describe('createRootLogger', () => {
  it('writes one JSON line per event with base fields, ISO time and a level label', () => {
    const { logger, lines, records } = capture();
    logger.info({ durationMs: 12 }, 'tick done');
    expect(lines).toHaveLength(1);
    expect(lines[0]!.endsWith('\n')).toBe(true);
    const [r] = records();
    expect(r).toMatchObject({ level: 'info', node: 'node1', scope: 'pgha', durationMs: 12, msg: 'tick done' });
    expect(String(r!['time'])).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(r).not.toHaveProperty('pid');
  });

  it('honours the level', () => {
    const { logger, lines } = capture('warn');
    logger.info('not written');
    logger.warn('written');
    expect(lines).toHaveLength(1);
  });

  it('componentLogger adds the component field', () => {
    const { logger, records } = capture();
    componentLogger(logger, 'dcs').info('lease granted');
    expect(records()[0]).toMatchObject({ component: 'dcs', node: 'node1', scope: 'pgha' });
  });

  it('redacts passwords, conninfo, config authentication and authorization headers', () => {
    const { logger, lines, records } = capture();
    logger.info({
      password: 'top-1',
      user: { password: 'top-2' },
      a: { b: { password: 'top-3' } },
      deep: { x: { y: { z: { sslpassword: 'top-4' } } } },
      conninfo: 'host=10.0.0.1 user=replicator password=top-5',
      primary_conninfo: "host=x password='top 6'",
      config: { postgresql: { authentication: { superuser: { username: 'postgres', password: 'top-7' } } }, restapi: { listen: '0.0.0.0:8008' } },
      req: { method: 'POST', url: '/switchover', headers: { authorization: 'Basic dG9wLTg=', host: 'x' } },
      url: 'postgres://replicator:top-9@10.0.0.1:5432/postgres',
      note: 'retrying with password=top-10 after failure',
      keyfile_password: 'top-11',
    }, 'secret soup');
    const text = lines.join('');
    for (let i = 1; i <= 11; i++) expect(text).not.toContain(`top-${i}`);
    expect(text).not.toContain('dG9wLTg=');
    const r = records()[0]!;
    expect(r['password']).toBe(CENSOR);
    expect(r['conninfo']).toBe(CENSOR);
    expect((r['config'] as Record<string, Record<string, unknown>>)['postgresql']!['authentication']).toBe(CENSOR);
    expect((r['config'] as Record<string, Record<string, unknown>>)['restapi']).toEqual({ listen: '0.0.0.0:8008' });
    expect((r['req'] as { headers: Record<string, string> }).headers).toEqual({ authorization: CENSOR, host: 'x' });
    expect(r['url']).toBe(`postgres://replicator:${CENSOR}@10.0.0.1:5432/postgres`);
    expect(r['note']).toBe(`retrying with password=${CENSOR} after failure`);
  });

  it('scrubs passwords from error messages and child bindings', () => {
    const { logger, lines } = capture();
    const err = new Error('could not connect: host=x password=top-err');
    logger.child({ conninfo: 'password=top-child' }).error({ err }, 'connect failed');
    const text = lines.join('');
    expect(text).not.toContain('top-err');
    expect(text).not.toContain('top-child');
    expect(text).toContain('could not connect');
    expect(text).toContain('"type":"Error"');
  });

  it('does not modify the logged object', () => {
    const { logger } = capture();
    const fields = { auth: { password: 'keep-me' } };
    logger.info(fields, 'x');
    expect(fields.auth.password).toBe('keep-me');
  });
});

describe('scrub helpers', () => {
  it('leave clean values untouched (same object)', () => {
    const clean = { a: 1, b: { c: 'text' }, d: [1, 2] };
    expect(scrubSecrets(clean)).toBe(clean);
  });

  it('survive cycles', () => {
    const cyclic: Record<string, unknown> = { password: 'p' };
    cyclic['self'] = cyclic;
    const out = scrubSecrets(cyclic) as Record<string, unknown>;
    expect(out['password']).toBe(CENSOR);
  });

  it('mask conninfo and URL passwords only', () => {
    expect(scrubString("host=a password='x y' user=b")).toBe(`host=a password=${CENSOR} user=b`);
    expect(scrubString('http://u:pw@h:1/x')).toBe(`http://u:${CENSOR}@h:1/x`);
    expect(scrubString('http://h:1/x')).toBe('http://h:1/x');
  });
});
