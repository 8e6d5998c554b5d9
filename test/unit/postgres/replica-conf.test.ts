import { describe, expect, it } from 'vitest';
import { parseConninfo } from '../../../src/postgres/conninfo.js';
import { primaryConninfo, renderReplicaConf, slotNameForMember, upstreamOfReplicaConf } from '../../../src/postgres/replica-conf.js';
import { replicaSettings } from '../../../src/postgres/follow.js';
import { testConfig } from './fixtures.js';

describe('replica configuration', () => {
  const config = testConfig({ name: 'node2', pgpass: '/home/pg/.pgpass' });
  const settings = { upstream: { host: '10.0.0.1', port: 5433, name: 'node1' }, applicationName: 'node2', slotName: 'node2' };

  it('names the upstream, the member, the slot and the passfile, never a password', () => {
    const ci = primaryConninfo(settings, config);
    expect(ci).toContain('host=10.0.0.1');
    expect(ci).toContain('port=5433');
    expect(ci).toContain('user=replicator');
    expect(ci).toContain('application_name=node2');
    expect(ci).toContain('passfile=/home/pg/.pgpass');
    expect(ci).not.toContain('rep-pass');
    const text = renderReplicaConf(settings, config);
    expect(text).toContain("primary_slot_name = 'node2'");
    expect(text).toContain("recovery_target_timeline = 'latest'");
    expect(text).not.toContain('rep-pass');
  });

  it('is empty of settings on a primary', () => {
    expect(renderReplicaConf(null, config)).not.toContain('primary_conninfo');
  });

  it('a nostream member gets no conninfo and no slot: it replays from the archive (Patroni 4 tags.nostream)', () => {
    const nostream = { ...config, tags: { nostream: true } };
    const s = replicaSettings(nostream, null, settings.upstream);
    expect(s).toMatchObject({ stream: false, slotName: null });
    const text = renderReplicaConf(s, nostream);
    expect(text).toContain("primary_conninfo = ''");
    expect(text).toContain("primary_slot_name = ''");
    expect(text).toContain("recovery_target_timeline = 'latest'");
    expect(replicaSettings(config, null, settings.upstream)).toMatchObject({ stream: true, slotName: 'node2' });
  });
});

describe('slotNameForMember', () => {
  it('matches Patroni', () => {
    expect(slotNameForMember('Node-1.dc')).toBe('node_1_dc');
    expect(slotNameForMember('a b')).toBe('au0032b');
    expect(slotNameForMember('x'.repeat(80))).toHaveLength(63);
  });
});

describe('upstreamOfReplicaConf', () => {
  const config = testConfig({ pgpass: "/tmp/it's a pass" });

  it('reads back the host and port renderReplicaConf wrote', () => {
    for (const host of ['10.0.0.1', 'db-1.example.com', 'fe80::1', '/run/pg']) {
      const text = renderReplicaConf({ upstream: { host, port: 6543, name: 'n' }, applicationName: "me o'clock", slotName: 's' }, config);
      expect(upstreamOfReplicaConf(text)).toEqual({ host, port: 6543 });
    }
  });

  it('finds none on a primary, a nostream member or a file without a conninfo', () => {
    expect(upstreamOfReplicaConf(renderReplicaConf(null, config))).toBeNull();
    const s = replicaSettings({ ...config, tags: { nostream: true } }, null, { host: 'h', port: 1, name: 'n' });
    expect(upstreamOfReplicaConf(renderReplicaConf(s, config))).toBeNull();
    expect(upstreamOfReplicaConf('')).toBeNull();
  });

  it('ignores a host it would refuse as an upstream', () => {
    expect(upstreamOfReplicaConf("primary_conninfo = 'host=a,b port=5432'\n")).toBeNull();
    expect(upstreamOfReplicaConf("primary_conninfo = 'host=''*'' port=5432'\n")).toBeNull();
  });

  it('parses conninfo values bare or quoted, with escapes', () => {
    expect(Object.fromEntries(parseConninfo("host = h  port=5 application_name='a b\\'c' x=y\\ z"))).toEqual({
      host: 'h', port: '5', application_name: "a b'c", x: 'y z',
    });
  });
});
