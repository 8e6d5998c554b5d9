// Client tuning from config: etcd user/password auth, and TLS with a client certificate.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Etcd3Config } from '../../src/config/types.js';
import { createEtcdDcs } from '../../src/dcs/etcd-dcs.js';
import type { Dcs } from '../../src/dcs/port.js';
import { systemClock } from '../../src/time/clock.js';
import {
  ETCD_BIN, etcdctl, freePort, makeTempDir, runCommand, spawnTracked, startEtcd, waitFor,
} from '../harness/index.js';
import { testLogger } from '../support/dcs-env.js';
import { memberStatus } from '../support/member-status.js';

const made: Dcs[] = [];
afterAll(async () => {
  await Promise.all(made.map((d) => d.close()));
});

function dcsWith(etcd3: Etcd3Config, name = 'a'): Dcs {
  const d = createEtcdDcs({
    config: { etcd3, namespace: '/service/', scope: 'secure', name },
    ttlSec: 10, retryTimeoutSec: 4, clock: systemClock, logger: testLogger(),
  });
  made.push(d);
  return d;
}

describe('etcd password auth', () => {
  it('works with the right password; a wrong one is a non-retryable auth error that does not echo it', async () => {
    const etcd = await startEtcd();
    try {
      await etcdctl(etcd, ['user', 'add', 'root', '--new-user-password', 'root-pass']);
      await etcdctl(etcd, ['auth', 'enable']);
      const [host, port] = (etcd.endpoints[0] ?? '').split(':');
      const hosts = [{ host: host ?? '', port: Number(port) }];
      const good = dcsWith({ protocol: 'http', hosts, username: 'root', password: 'root-pass' });
      await good.touchMember(memberStatus('a'));
      expect(await good.acquireLeader()).toBe(true);
      const bad = dcsWith({ protocol: 'http', hosts, username: 'root', password: 'wrong-secret' }, 'b');
      const err = await bad.snapshot().then(() => null, (e: unknown) => e as { code: string; retryable: boolean; message: string });
      expect(err).toMatchObject({ code: 'auth', retryable: false });
      expect(err?.message).not.toContain('wrong-secret');
    } finally {
      await etcd.close();
    }
  });
});

async function openssl(dir: string, args: string[]): Promise<void> {
  await runCommand('/usr/bin/openssl', args, { cwd: dir, timeoutMs: 30_000 });
}

async function makeCerts(dir: string): Promise<void> {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await openssl(dir, ['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=pgha-test-ca']);
  for (const [name, usage] of [['server', 'serverAuth,clientAuth'], ['client', 'clientAuth']] as const) {
    await writeFile(join(dir, `${name}.ext`), `subjectAltName=IP:127.0.0.1\nextendedKeyUsage=${usage}\n`);
    await openssl(dir, ['req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`]);
    await openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial',
      '-out', `${name}.pem`, '-days', '1', '-extfile', `${name}.ext`]);
  }
}

describe('etcd over TLS with client certificates', () => {
  it('connects with etcd3.cacert/cert/key and is refused without a client certificate', async () => {
    const dir = await makeTempDir('etcd-tls');
    await makeCerts(dir);
    const [clientPort, peerPort] = [await freePort(), await freePort()];
    const url = `https://127.0.0.1:${clientPort}`;
    const proc = spawnTracked([ETCD_BIN, '--name', 'tls0', '--data-dir', join(dir, 'data'),
      '--listen-client-urls', url, '--advertise-client-urls', url,
      '--listen-peer-urls', `http://127.0.0.1:${peerPort}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${peerPort}`,
      '--initial-cluster', `tls0=http://127.0.0.1:${peerPort}`,
      '--cert-file', join(dir, 'server.pem'), '--key-file', join(dir, 'server.key'),
      '--trusted-ca-file', join(dir, 'ca.pem'), '--client-cert-auth'], { name: 'etcd-tls', kind: 'etcd', teardownSignal: 'SIGKILL' });
    try {
      const tls = { cacert: join(dir, 'ca.pem'), cert: join(dir, 'client.pem'), key: join(dir, 'client.key') };
      const hosts = [{ host: '127.0.0.1', port: clientPort }];
      const good = dcsWith({ protocol: 'https', hosts, ...tls });
      await waitFor('etcd over TLS to answer', async () => (await good.snapshot()).revision > 0, { timeoutMs: 30_000 });
      await good.touchMember(memberStatus('a'));
      expect(await good.acquireLeader()).toBe(true);
      const noCert = dcsWith({ protocol: 'https', hosts, cacert: tls.cacert }, 'b');
      await expect(noCert.snapshot()).rejects.toMatchObject({ name: 'DcsError', code: 'unavailable' });
    } finally {
      await proc.kill();
    }
  });
});
