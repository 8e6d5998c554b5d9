import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AGENT_USAGE, ROOT_REFUSAL, parseAgentArgs, runAgentCli, type CliDeps } from '../../../src/config/cli.js';
import type { Config } from '../../../src/config/types.js';
import { FIXTURES, fakeProbe } from './helpers.js';

describe('parseAgentArgs', () => {
  it.each([
    [['/etc/pgha.yml'], { kind: 'run', configFile: '/etc/pgha.yml' }],
    [['--config', 'a.yml'], { kind: 'run', configFile: 'a.yml' }],
    [['-c', 'a.yml'], { kind: 'run', configFile: 'a.yml' }],
    [['--config=a.yml'], { kind: 'run', configFile: 'a.yml' }],
    [['--validate-config', 'a.yml'], { kind: 'validate', configFile: 'a.yml' }],
    [['--validate-config=a.yml'], { kind: 'validate', configFile: 'a.yml' }],
    [['a.yml', '--validate-config'], { kind: 'validate', configFile: 'a.yml' }],
    [['--', '-odd-name.yml'], { kind: 'run', configFile: '-odd-name.yml' }],
    [['--help'], { kind: 'help' }],
    [['-h', '--bogus-is-fine-after-help'], { kind: 'usage-error', message: 'unknown option "--bogus-is-fine-after-help"' }],
    [['a.yml', '--version'], { kind: 'version' }],
    [['-V'], { kind: 'version' }],
  ] as const)('%j', (argv, expected) => {
    expect(parseAgentArgs(argv)).toEqual(expected);
  });

  it('reports usage errors', () => {
    expect(parseAgentArgs(['--bogus'])).toEqual({ kind: 'usage-error', message: 'unknown option "--bogus"' });
    expect(parseAgentArgs([])).toEqual({ kind: 'usage-error', message: 'no configuration file given' });
    expect(parseAgentArgs(['--config'])).toEqual({ kind: 'usage-error', message: '--config needs a file name' });
    expect(parseAgentArgs(['a.yml', 'b.yml'])).toMatchObject({ kind: 'usage-error', message: expect.stringContaining('more than one config file') });
  });

  it('falls back to PGHA_CONFIG', () => {
    expect(parseAgentArgs([], { PGHA_CONFIG: '/etc/x.yml' })).toEqual({ kind: 'run', configFile: '/etc/x.yml' });
  });

  it('the usage text names every flag', () => {
    for (const flag of ['--config', '-c', '--validate-config', '--help', '-h', '--version', '-V']) expect(AGENT_USAGE).toContain(flag);
  });
});

const dir = mkdtempSync(join(tmpdir(), 'pgha-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function harness(uid: number | undefined = 1000) {
  const out: string[] = [];
  const err: string[] = [];
  const started: Config[] = [];
  const deps: CliDeps = {
    env: {},
    stdout: (t) => out.push(t),
    stderr: (t) => err.push(t),
    getuid: () => uid,
    loadOptions: { probe: fakeProbe() },
    startAgent: (config) => {
      started.push(config);
      return Promise.resolve(0);
    },
  };
  return { deps, out: () => out.join(''), err: () => err.join(''), started };
}

const bad = join(dir, 'bad.yml');
writeFileSync(bad, 'scope: pgha\nname: n1\nrestapi:\n  listen: 127.0.0.1:99999\npostgresql:\n  password: hunter2-secret\n');

describe('runAgentCli', () => {
  it('--validate-config prints ok and exits 0 for a good file, even as root', async () => {
    const h = harness(0);
    expect(await runAgentCli(['--validate-config', `${FIXTURES}/node1.yml`], h.deps)).toBe(0);
    expect(h.out()).toBe('ok\n');
  });

  it('--validate-config prints every problem as "path: message" and exits 2', async () => {
    const h = harness();
    expect(await runAgentCli(['--validate-config', bad], h.deps)).toBe(2);
    const lines = h.out().trim().split('\n');
    expect(lines).toEqual(expect.arrayContaining([
      'restapi.listen: port must be an integer between 1 and 65535, got 99999',
      'postgresql.password: unknown key; did you mean "postgresql.authentication.superuser.password"?',
      'postgresql.data_dir: is required',
      'etcd3.hosts: is required: give etcd3.host or etcd3.hosts (host:port of each etcd member)',
    ]));
    expect(h.out()).not.toContain('hunter2');
  });

  it('--validate-config exits 2 naming every refused key (issue 22)', async () => {
    const refused = join(dir, 'refused.yml');
    const text = readFileSync(`${FIXTURES}/node1.yml`, 'utf8')
      .replace('synchronous_mode: false', 'synchronous_mode: false\n    failsafe_mode: true')
      .replace('watchdog:\n  mode: off', 'watchdog:\n  mode: required')
      .replace('  basebackup:', '  pre_promote: /bin/true\n  basebackup:');
    writeFileSync(refused, text);
    const h = harness();
    expect(await runAgentCli(['--validate-config', refused], h.deps)).toBe(2);
    const lines = h.out().trim().split('\n');
    expect(lines.map((l) => l.slice(0, l.indexOf(': '))).sort()).toEqual(['bootstrap.dcs.failsafe_mode', 'postgresql.pre_promote', 'watchdog.mode']);
    expect(lines.every((l) => l.includes(': not supported yet: '))).toBe(true);
  });

  it('warns when a config file holding passwords is readable by every user (issue 13); not when it is not', async () => {
    const open = join(dir, 'open.yml');
    writeFileSync(open, readFileSync(`${FIXTURES}/node1.yml`, 'utf8'));
    chmodSync(open, 0o644);
    const h = harness();
    expect(await runAgentCli(['--validate-config', open], h.deps)).toBe(0);
    expect(h.err()).toMatch(/warning: the config file is readable by every user \(mode 0644\) and holds .*postgresql\.authentication\.superuser\.password.*: chmod o-r it/);
    expect(h.err()).not.toMatch(/secret|hunter/);
    chmodSync(open, 0o640);
    const closed = harness();
    expect(await runAgentCli(['--validate-config', open], closed.deps)).toBe(0);
    expect(closed.err()).not.toContain('readable by every user');
  });

  it('an unreadable file is a config error (exit 2)', async () => {
    const h = harness();
    expect(await runAgentCli(['--validate-config', join(dir, 'missing.yml')], h.deps)).toBe(2);
    expect(h.out()).toContain('cannot read config file');
  });

  it('refuses to run as root', async () => {
    const h = harness(0);
    expect(await runAgentCli([`${FIXTURES}/node1.yml`], h.deps)).toBe(2);
    expect(h.err()).toBe(`${ROOT_REFUSAL}\n`);
    expect(h.started).toHaveLength(0);
  });

  it('exits 2 with every problem when the config is bad at start-up', async () => {
    const h = harness();
    expect(await runAgentCli(['--config', bad], h.deps)).toBe(2);
    expect(h.err()).toMatch(/invalid configuration in .*bad\.yml \(\d+ problems\)/);
    expect(h.err()).toContain('postgresql.data_dir: is required');
    expect(h.started).toHaveLength(0);
  });

  it('starts the agent with the frozen config and returns its exit code', async () => {
    const h = harness();
    expect(await runAgentCli([`${FIXTURES}/node2.yml`], h.deps)).toBe(0);
    expect(h.started.map((c) => c.name)).toEqual(['node2']);
    expect(h.started[0]!.configFile).toBe(`${FIXTURES}/node2.yml`);
  });

  it('--help and --version exit 0; an unknown flag exits 2 with usage', async () => {
    const help = harness();
    expect(await runAgentCli(['--help'], help.deps)).toBe(0);
    expect(help.out()).toBe(AGENT_USAGE);
    const version = harness();
    expect(await runAgentCli(['--version'], version.deps)).toBe(0);
    expect(version.out()).toMatch(/^pg-ha-agent \d+\.\d+\.\d+/);
    const unknown = harness();
    expect(await runAgentCli(['--frobnicate'], unknown.deps)).toBe(2);
    expect(unknown.err()).toContain('unknown option "--frobnicate"');
    expect(unknown.err()).toContain('Usage: pg-ha-agent');
  });
});
