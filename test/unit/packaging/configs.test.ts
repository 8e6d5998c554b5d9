// Every config file we ship loads through the validator, and the systemd unit says what the docs say.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/index.js';

const root = join(import.meta.dirname, '../../..');

describe('shipped configuration files', () => {
  const nodeFiles = readdirSync(join(root, 'config')).filter((f) => f.endsWith('.yml'));

  it('config/ has a config per node of a 3-node cluster', () => {
    expect(nodeFiles.sort()).toEqual(['node1.yml', 'node2.yml', 'node3.yml']);
  });

  for (const file of nodeFiles) {
    it(`config/${file} validates`, async () => {
      const config = await loadConfig(join(root, 'config', file), {});
      expect(config.name).toBe(file.replace('.yml', ''));
      expect(config.scope).toBe('demo');
      const dcs = config.bootstrap.dcs;
      expect(dcs.loop_wait + 2 * dcs.retry_timeout).toBeLessThanOrEqual(dcs.ttl);
    });
  }

  it('the three node configs differ only in name and addresses', async () => {
    const configs = await Promise.all(nodeFiles.map((f) => loadConfig(join(root, 'config', f), {})));
    const names = new Set(configs.map((c) => c.name));
    const pgAddresses = new Set(configs.map((c) => `${c.postgresql.connect_address.host}:${c.postgresql.connect_address.port}`));
    expect(names.size).toBe(3);
    expect(pgAddresses.size).toBe(3);
    expect(new Set(configs.map((c) => c.etcd3.hosts.length))).toEqual(new Set([3]));
  });

  it('docker/node.yml validates once the compose environment names the node', async () => {
    const env = {
      PGHA_NAME: 'node2',
      PGHA_RESTAPI_CONNECT_ADDRESS: 'node2:8008',
      PGHA_POSTGRESQL_CONNECT_ADDRESS: 'node2:5432',
    };
    const config = await loadConfig(join(root, 'docker', 'node.yml'), env);
    expect(config.name).toBe('node2');
    expect(config.restapi.connect_address).toEqual({ host: 'node2', port: 8008 });
    expect(config.postgresql.connect_address).toEqual({ host: 'node2', port: 5432 });
  });
});

describe('systemd unit', () => {
  const unit = readFileSync(join(root, 'systemd', 'pg-ha-agent.service'), 'utf8');
  const directive = (key: string) => unit.split('\n').find((l) => l.startsWith(`${key}=`))?.slice(key.length + 1);

  it('runs the agent as postgres and never kills PostgreSQL with it', () => {
    expect(directive('User')).toBe('postgres');
    expect(directive('KillMode')).toBe('process');
    expect(directive('ExecStart')).toMatch(/pg-ha-agent \/etc\/pg-ha-agent\/pg-ha-agent\.yml$/);
  });

  it('restarts on failure but not on a configuration error or foreign data (exit 2 and 3)', () => {
    expect(directive('Restart')).toBe('on-failure');
    expect(directive('RestartPreventExitStatus')?.split(/\s+/).sort()).toEqual(['2', '3']);
  });

  it('restarts in place (exit 75) at once and well inside the lease TTL, and keeps SIGHUP as reload', () => {
    expect(directive('RestartForceExitStatus')).toBe('75');
    expect(directive('SuccessExitStatus')).toBe('75');
    const m = /^(\d+(?:\.\d+)?)(ms|s)$/.exec(directive('RestartSec') ?? '');
    const ms = Number(m?.[1]) * (m?.[2] === 's' ? 1000 : 1);
    // ttl 10 with a 1 s margin leaves 9 s; ttl 5 leaves 4 s: the restart delay is a small part of it.
    expect(ms).toBeLessThanOrEqual(1000);
    expect(directive('ExecReload')).toBe('/bin/kill -HUP $MAINPID');
    expect(Number(directive('StartLimitBurst'))).toBeGreaterThanOrEqual(10);
  });
});
