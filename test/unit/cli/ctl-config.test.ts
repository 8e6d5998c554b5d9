import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCtlConfig, parseCtlConfig } from '../../../src/cli/ctl-config.js';
import { ConfigError } from '../../../src/config/errors.js';
import type { FsProbe } from '../../../src/config/paths.js';

const FIXTURES = join(import.meta.dirname, '../../fixtures/config');
const probe = (existing: string[] = []): FsProbe => ({
  exists: (p) => existing.includes(p), isDirectory: () => false, isExecutableFile: () => false, listDir: () => [],
});

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.map((p) => `${p.path}: ${p.message}`);
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('agentctl config', () => {
  it("reads a node's own config: scope, namespace, etcd3 and the superuser for timing probes", () => {
    const text = readFileSync(join(FIXTURES, 'node1.yml'), 'utf8');
    const c = parseCtlConfig(text, {}, '/etc/node1.yml', { probe: probe(), cwd: '/' });
    expect(c.scope).toBe('pgha');
    expect(c.namespace).toBe('/service/');
    expect(c.etcd3.hosts).toEqual([{ host: '127.0.0.1', port: 2379 }, { host: '127.0.0.1', port: 22379 }, { host: '127.0.0.1', port: 32379 }]);
    expect(c.superuser?.username).toBe('postgres');
    expect(c.rest.insecure).toBe(false);
  });

  it('accepts a small operator file with only the keys agentctl needs', () => {
    const c = parseCtlConfig('scope: batman\netcd3:\n  hosts: 10.0.0.1:2379,10.0.0.2:2379\nrestapi:\n  authentication:\n    username: admin\n    password: s3cret\n',
      {}, '/x.yml', { probe: probe() });
    expect(c).toMatchObject({ scope: 'batman', namespace: '/service/', rest: { auth: { username: 'admin', password: 's3cret' }, insecure: false } });
    expect(c.superuser).toBeUndefined();
  });

  it("prefers patronictl's ctl section for the REST client", () => {
    const c = parseCtlConfig([
      'scope: s', 'etcd3: {host: "10.0.0.1:2379"}',
      'restapi: {authentication: {username: agent, password: a}, cafile: /ca-rest.pem, certfile: /cert.pem, keyfile: /key.pem}',
      'ctl: {authentication: {username: ops, password: o}, cacert: /ca-ctl.pem, insecure: true}',
    ].join('\n'), {}, '/x.yml', { probe: probe(['/ca-rest.pem', '/ca-ctl.pem', '/cert.pem', '/key.pem']) });
    expect(c.rest).toEqual({ auth: { username: 'ops', password: 'o' }, caFile: '/ca-ctl.pem', certFile: '/cert.pem', keyFile: '/key.pem', insecure: true });
  });

  it('reports what agentctl needs and nothing else', () => {
    const problems = problemsOf(() => parseCtlConfig('namespace: /service/\npostgresql:\n  data_dir: 5\nrestapi:\n  listen: nonsense\n', {}, '/x.yml', { probe: probe() }));
    expect(problems).toEqual(['scope: is required', 'etcd3.hosts: is required: give etcd3.host or etcd3.hosts (host:port of each etcd member)']);
  });

  it('names a TLS file that does not exist and the v2 etcd section', () => {
    expect(problemsOf(() => parseCtlConfig('scope: s\netcd3: {hosts: "h:1"}\nctl: {cacert: /nope.pem}\n', {}, '/x.yml', { probe: probe() })))
      .toEqual(['ctl.cacert: file not found: /nope.pem']);
    expect(problemsOf(() => parseCtlConfig('scope: s\netcd:\n  host: h:2379\n', {}, '/x.yml', { probe: probe() })).join('\n'))
      .toMatch(/^etcd: not supported: the etcd section is Patroni's etcd v2 client/);
  });

  it('applies PGHA_ environment overrides like the agent', () => {
    const c = parseCtlConfig('scope: s\netcd3: {hosts: "h:1"}\n', { PGHA_ETCD3_HOSTS: '10.9.9.9:2379', PGHA_SCOPE: 'other' }, '/x.yml', { probe: probe() });
    expect(c.scope).toBe('other');
    expect(c.etcd3.hosts).toEqual([{ host: '10.9.9.9', port: 2379 }]);
  });

  it('says when the file cannot be read', async () => {
    await expect(loadCtlConfig('/nonexistent/agentctl.yml', {})).rejects.toThrow(/cannot read config file \/nonexistent\/agentctl.yml: no such file/);
  });
});
