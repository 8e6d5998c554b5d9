// The built pg-ha-agent binary (dist/bin/pg-ha-agent.js) as a user meets it: flags, exit codes,
// output. Quick: no etcd or PostgreSQL is started; run mode is only exercised up to the checks
// that must stop it before the agent starts (root, bad config).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { CommandError, isRoot, makeTempDir, runCommand } from '../harness/index.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = join(ROOT, 'dist/bin/pg-ha-agent.js');
const FIXTURES = join(ROOT, 'test/fixtures/config');

interface Outcome { code: number | null; stdout: string; stderr: string }

async function agent(args: string[], opts: { user?: 'postgres'; env?: NodeJS.ProcessEnv } = {}): Promise<Outcome> {
  try {
    const r = await runCommand(process.execPath, [BIN, ...args], { ...opts, timeoutMs: 30_000 });
    return { code: 0, ...r };
  } catch (err) {
    if (err instanceof CommandError) return { code: err.exitCode, stdout: err.stdout, stderr: err.stderr };
    throw err;
  }
}

let badConfig = '';

beforeAll(async () => {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run "npm run build" first`);
  const dir = await makeTempDir('cli-agent', { owner: 'postgres' });
  badConfig = join(dir, 'bad.yml');
  writeFileSync(badConfig, [
    'scope: pgha',
    'name: node1',
    'restapi:',
    '  listen: 127.0.0.1:70000',
    'etcd:',
    '  host: 127.0.0.1:2379',
    'postgresql:',
    '  listen: 127.0.0.1:5432',
    '  data_dir: /tmp/x',
    '  authentication:',
    '    superuser: {username: postgres, password: very-secret-pw}',
    '    replication: {password: also-secret}',
    'bootstrap:',
    '  dcs: {ttl: 10, loop_wait: 5, retry_timeout: 5, failsafe_mode: true}',
    '',
  ].join('\n'), { mode: 0o644 });
});

describe('pg-ha-agent binary', () => {
  it('keeps its shebang', () => {
    expect(readFileSync(BIN, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
  });

  it('--version prints the package version and exits 0', async () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const r = await agent(['--version']);
    expect(r).toMatchObject({ code: 0, stdout: `pg-ha-agent ${pkg.version}\n` });
  });

  it('--help prints usage with every flag and exits 0', async () => {
    const r = await agent(['--help']);
    expect(r.code).toBe(0);
    for (const flag of ['--config', '--validate-config', '--help', '--version']) expect(r.stdout).toContain(flag);
  });

  it('an unknown flag exits 2 with usage on stderr', async () => {
    const r = await agent(['--no-such-flag']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown option "--no-such-flag"');
    expect(r.stderr).toContain('Usage: pg-ha-agent');
  });

  it.each(['node1.yml', 'postgres0.yml'])('--validate-config %s prints ok and exits 0 (as root too)', async (file) => {
    const r = await agent(['--validate-config', join(FIXTURES, file)]);
    expect(r).toMatchObject({ code: 0, stdout: 'ok\n' });
  });

  it('--validate-config on a bad file lists every problem and exits 2, without passwords', async () => {
    const r = await agent(['--validate-config', badConfig]);
    expect(r.code).toBe(2);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toEqual(expect.arrayContaining([
      'restapi.listen: port must be an integer between 1 and 65535, got 70000',
      expect.stringMatching(/^etcd: not supported: .*rename the section to etcd3/),
      'postgresql.authentication.replication.username: is required',
      expect.stringMatching(/^bootstrap\.dcs\.failsafe_mode: not supported yet: /),
    ]));
    expect(lines).toHaveLength(4);
    expect(`${r.stdout}${r.stderr}`).not.toMatch(/very-secret-pw|also-secret/);
  });

  it('refuses to run the agent as root (exit 2)', async () => {
    expect(isRoot(), 'the integration suite runs as root').toBe(true);
    const r = await agent([join(FIXTURES, 'node1.yml')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('pg-ha-agent must not run as root: run it as the OS user that owns the PostgreSQL data directory');
  });

  it('a bad config at start-up exits 2 with every problem on stderr', async () => {
    const r = await agent(['--config', badConfig], { user: 'postgres' });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/invalid configuration in .*bad\.yml \(4 problems\)/);
    expect(r.stderr).toContain('postgresql.authentication.replication.username: is required');
    expect(r.stderr).not.toMatch(/very-secret-pw|also-secret/);
  });
});
