// Patroni's own patronictl (Debian 3.0.2) reads the keys our codecs write, and we read what it writes.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_DYNAMIC_CONFIG } from '../../src/config/dynamic.js';
import type { Dcs } from '../../src/dcs/port.js';
import { makeTempDir, requireKnownBinary, runCommand, startEtcd, type EtcdCluster } from '../harness/index.js';
import { etcdDcs } from '../support/dcs-env.js';
import { memberStatus } from '../support/member-status.js';

let etcd: EtcdCluster;
let pg0: Dcs;
let pg1: Dcs;
let ctlConfig: string;

async function patronictl(...args: string[]): Promise<string> {
  const { stdout } = await runCommand(requireKnownBinary('patronictl'), ['-c', ctlConfig, ...args], { timeoutMs: 60_000 });
  return stdout;
}

beforeAll(async () => {
  etcd = await startEtcd();
  const dir = await makeTempDir('patronictl');
  ctlConfig = join(dir, 'patronictl.yml');
  await writeFile(ctlConfig, `scope: batman\nnamespace: /service/\netcd3:\n  hosts: ${etcd.endpoints.join(',')}\n`);
  pg0 = etcdDcs({ endpoints: etcd.endpoints, scope: 'batman', name: 'pg0', ttlSec: 30 });
  pg1 = etcdDcs({ endpoints: etcd.endpoints, scope: 'batman', name: 'pg1', ttlSec: 30 });
  expect(await pg0.initialize('7300000000000000001')).toBe(true);
  expect(await pg0.setConfig({ ...DEFAULT_DYNAMIC_CONFIG, postgresql: { use_pg_rewind: true, use_slots: true, parameters: { max_connections: 100 } } }, 0)).toBe(true);
  await pg0.touchMember(memberStatus('pg0', { role: 'primary', xlogLocation: 50331968, timeline: 2 }));
  await pg1.touchMember(memberStatus('pg1', {
    role: 'replica', connUrl: 'postgres://127.0.0.1:5433/postgres', apiUrl: 'http://127.0.0.1:8009/patroni',
    xlogLocation: 50331000, receiveLsn: 50331000, replayLsn: 50330000, replicationState: 'streaming', timeline: 2, tags: { nofailover: true },
  }));
  expect(await pg0.acquireLeader()).toBe(true);
  await pg0.appendHistory({ timeline: 1, switchLsn: 25623960, reason: 'no recovery target specified', timestamp: '2026-01-01T10:00:00+00:00', newLeader: 'pg0' });
  await pg0.setStatus({ optime: 50331968, slots: { pg1: 50331000 }, retainSlots: ['pg0', 'pg1'] });
  expect(await pg0.setSync({ leader: 'pg0', syncStandby: ['pg1'] }, 0)).toBe(true);
});

afterAll(async () => {
  await pg0?.close();
  await pg1?.close();
  await etcd?.close();
});

describe('patronictl 3.0.2 against keys written by pg-ha-agent', () => {
  it('lists the members with roles, timeline, lag and tags', async () => {
    const rows = JSON.parse(await patronictl('list', '-f', 'json')) as Record<string, unknown>[];
    expect(rows).toEqual([
      expect.objectContaining({ Member: 'pg0', Host: '127.0.0.1:5432', Role: 'Leader', State: 'running', TL: 2 }),
      expect.objectContaining({ Member: 'pg1', Host: '127.0.0.1:5433', Role: 'Sync Standby', State: 'running', TL: 2, 'Lag in MB': 0, Tags: { nofailover: true } }),
    ]);
  });

  it('shows the history and the configuration', async () => {
    expect(JSON.parse(await patronictl('history', '-f', 'json'))).toEqual([
      { TL: 1, LSN: 25623960, Reason: 'no recovery target specified', Timestamp: '2026-01-01T10:00:00+00:00', 'New Leader': 'pg0' },
    ]);
    const shown = await patronictl('show-config');
    expect(shown).toMatch(/^ttl: 30$/m);
    expect(shown).toMatch(/max_connections: 100/);
  });

  it('its edit-config is read back by our codec', async () => {
    await patronictl('edit-config', '--force', '--set', 'loop_wait=5', '--set', 'postgresql.parameters.work_mem=8MB');
    const view = await pg0.snapshot();
    expect(view.invalid).toEqual([]);
    expect(view.config?.value.loop_wait).toBe(5);
    expect(view.config?.value.postgresql.parameters['work_mem']).toBe('8MB');
    expect(view.config?.value.ttl).toBe(30);
  });
});
