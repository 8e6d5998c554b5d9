import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { RunnerError, createExecaRunner, redactArg, wrapForUser } from '../../../src/exec/runner.js';

function memoryLogger(): { logger: pino.Logger; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString());
      cb();
    },
  });
  const logger = pino({ level: 'debug' }, stream);
  return {
    logger,
    lines: () => chunks.join('').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

describe('createExecaRunner', () => {
  it('returns exit code and output, and logs a start and a closing line', async () => {
    const { logger, lines } = memoryLogger();
    const res = await createExecaRunner({ logger }).run('sh', ['-c', 'echo out; echo err >&2; exit 3']);
    expect(res).toMatchObject({ exitCode: 3, signal: null, stdout: 'out', stderr: 'err', timedOut: false });
    expect(res.durationMs).toBeGreaterThanOrEqual(0);
    const msgs = lines().map((l) => l.msg);
    expect(msgs[0]).toBe('command started');
    expect(msgs).toContain('command stdout');
    const last = lines().at(-1);
    expect(last).toMatchObject({ msg: 'command finished', cmd: 'sh', exitCode: 3 });
    expect(typeof last?.durationMs).toBe('number');
  });

  it('passes stdin, env and cwd', async () => {
    const { logger } = memoryLogger();
    const res = await createExecaRunner({ logger }).run('sh', ['-c', 'cat; printf " $FOO "; pwd'], { input: 'in', env: { FOO: 'bar' }, cwd: '/tmp' });
    expect(res.stdout).toBe('in bar /tmp');
  });

  it('reports a timeout as data, with the process killed', async () => {
    const { logger } = memoryLogger();
    const t0 = performance.now();
    const res = await createExecaRunner({ logger, killGraceMs: 200 }).run('sleep', ['10'], { timeoutMs: 100 });
    expect(res.timedOut).toBe(true);
    expect(res.exitCode).toBeNull();
    expect(performance.now() - t0).toBeLessThan(5000);
  });

  it('throws RunnerError aborted when the signal aborts', async () => {
    const { logger } = memoryLogger();
    const ac = new AbortController();
    const p = createExecaRunner({ logger }).run('sleep', ['10'], { signal: ac.signal });
    setTimeout(() => ac.abort(), 50);
    const err = await p.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RunnerError);
    expect((err as RunnerError).code).toBe('aborted');
    await expect(createExecaRunner({ logger }).run('true', [], { signal: ac.signal })).rejects.toThrow(/aborted before start/);
  });

  it('names a command that cannot be run', async () => {
    const { logger } = memoryLogger();
    const err = await createExecaRunner({ logger }).run('/nonexistent/bin/pg_ctl', ['start']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RunnerError);
    expect((err as RunnerError).code).toBe('spawn-failed');
    expect((err as RunnerError).message).toContain('/nonexistent/bin/pg_ctl');
  });

  it('never logs a password given in an argument', async () => {
    const { logger, lines } = memoryLogger();
    await createExecaRunner({ logger }).run('true', ['host=h password=s3cret user=u']);
    expect(JSON.stringify(lines())).not.toContain('s3cret');
  });
});

describe('helpers', () => {
  it('wraps with runuser only as root with a user', () => {
    expect(wrapForUser('pg_ctl', ['start'], 'postgres', 0)).toEqual(['runuser', ['-u', 'postgres', '--', 'pg_ctl', 'start']]);
    expect(wrapForUser('pg_ctl', ['start'], 'postgres', 101)).toEqual(['pg_ctl', ['start']]);
    expect(wrapForUser('pg_ctl', ['start'], undefined, 0)).toEqual(['pg_ctl', ['start']]);
  });

  it('redacts password values, quoted or not', () => {
    expect(redactArg("password='a b' x")).toBe('password=******** x');
    expect(redactArg('PASSWORD=abc')).toBe('PASSWORD=********');
    expect(redactArg('host=h')).toBe('host=h');
  });
});
