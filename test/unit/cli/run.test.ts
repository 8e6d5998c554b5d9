import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runAgentctl, type CtlDeps } from '../../../src/cli/run.js';
import { DcsError } from '../../../src/dcs/port.js';
import { FakeClock, FakeIo, FakeWorld, errorAnswer } from './fakes.js';

const dir = mkdtempSync(join(tmpdir(), 'agentctl-unit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = join(dir, 'ctl.yml');
writeFileSync(file, 'scope: demo\netcd3:\n  hosts: 127.0.0.1:2379\nrestapi:\n  authentication: {username: u, password: hunter2}\n');

function deps(world: FakeWorld, io = new FakeIo(), env: NodeJS.ProcessEnv = {}): CtlDeps & { io: FakeIo } {
  const clock = new FakeClock();
  return {
    env, io, clock, sleep: async (ms) => { clock.now += ms; await new Promise((r) => setImmediate(r)); },
    openDcs: () => world.reader(), restClient: () => world.rest(), readStdin: async () => '',
  };
}

describe('agentctl exit codes and messages', () => {
  it('0 for a successful command, config from -c or PGHA_CONFIG', async () => {
    const d = deps(new FakeWorld());
    expect(await runAgentctl(['-c', file, 'list'], d)).toBe(0);
    expect(d.io.stdout).toContain('+ Cluster: demo (7300000000000000001)');
    const e = deps(new FakeWorld(), new FakeIo(), { PGHA_CONFIG: file });
    expect(await runAgentctl(['history', 'demo'], e)).toBe(0);
  });

  it('2 for usage errors, with a pointer to --help', async () => {
    const d = deps(new FakeWorld());
    expect(await runAgentctl(['-c', file, 'lisst'], d)).toBe(2);
    expect(d.io.stderr).toBe('agentctl: unknown command "lisst"\n  see agentctl --help\n');
    expect(await runAgentctl(['list'], deps(new FakeWorld()))).toBe(2);
    const s = deps(new FakeWorld());
    expect(await runAgentctl(['-c', file, 'list', 'othercluster'], s)).toBe(2);
    expect(s.io.stderr).toContain('"othercluster" is not the cluster of');
  });

  it('2 for a config error, naming the file and the key', async () => {
    const bad = join(dir, 'bad.yml');
    writeFileSync(bad, 'scope: demo\n');
    const d = deps(new FakeWorld());
    expect(await runAgentctl(['-c', bad, 'list'], d)).toBe(2);
    expect(d.io.stderr).toContain(`invalid configuration in ${bad} (1 problem):\n  etcd3.hosts: is required`);
    const m = deps(new FakeWorld());
    expect(await runAgentctl(['-c', join(dir, 'missing.yml'), 'list'], m)).toBe(2);
    expect(m.io.stderr).toContain('cannot read config file');
  });

  it('1 when etcd is unreachable, saying what to check; no stack trace', async () => {
    const w = new FakeWorld();
    w.etcdDown = new DcsError('unavailable', 'snapshot: every endpoint failed recently');
    for (const cmd of [['list'], ['switchover', '--candidate', 'b', '--force'], ['pause'], ['history'], ['show-config'], ['remove', 'demo', '--force']]) {
      const d = deps(w);
      expect(await runAgentctl(['-c', file, ...cmd], d)).toBe(1);
      expect(d.io.stderr).toBe('agentctl: cannot reach etcd at 127.0.0.1:2379 while reading the cluster state\n'
        + `  check that etcd is running and that etcd3.hosts in ${file} lists its client endpoints\n`);
    }
  });

  it('1 for an unknown member, with the members listed', async () => {
    const d = deps(new FakeWorld());
    expect(await runAgentctl(['-c', file, 'restart', 'q', '--force'], d)).toBe(1);
    expect(d.io.stderr).toBe('agentctl: unknown member "q" in cluster demo\n  members are: a, b, c (see agentctl list)\n');
  });

  it('1 for an unexpected error, with a hint at --debug; the stack only with --debug', async () => {
    const w = new FakeWorld();
    const broken = { ...w.reader(), snapshot: async () => { throw new TypeError('kaputt'); } };
    const d = { ...deps(w), openDcs: () => broken };
    expect(await runAgentctl(['-c', file, 'list'], d)).toBe(1);
    expect(d.io.stderr).toBe('agentctl: etcd error while reading the cluster state: kaputt\n');
    const dbg = { ...deps(w), openDcs: () => broken };
    await runAgentctl(['-c', file, 'list', '--debug'], dbg);
    expect(dbg.io.stderr).toContain('TypeError: kaputt\n    at ');
  });

  it('a 403 from an agent without authentication says how to get through (issue 13)', async () => {
    const w = new FakeWorld();
    w.handlers.push(() => errorAnswer(403, 'Access is denied: without restapi.authentication only this host and restapi.allowlist may change the cluster'));
    const d = deps(w);
    expect(await runAgentctl(['-c', file, 'pause'], d)).toBe(1);
    expect(d.io.stderr).toMatch(/refused the request: Access is denied: without restapi\.authentication .* \(403\)\n {2}run agentctl on \w+, or set restapi\.authentication on the agents \(and here\), or add this host to their restapi\.allowlist/);
  });

  it('never prints the REST password', async () => {
    const w = new FakeWorld();
    w.handlers.push(() => ({ status: 401, text: '', json: undefined }));
    const d = deps(w);
    expect(await runAgentctl(['-c', file, 'pause'], d)).toBe(1);
    expect(d.io.stderr).toContain('authentication failed (401)');
    expect(d.io.stderr + d.io.stdout).not.toContain('hunter2');
  });
});
