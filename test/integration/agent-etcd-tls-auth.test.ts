// Issue 13, end to end: etcd with TLS (client certificates required) and password auth, an agent
// and agentctl configured for both. The agent bootstraps and leads through it; agentctl lists the
// cluster through it; a wrong etcd password is refused without ever being printed.
import { chownSync, readFileSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify, parse } from 'yaml';
import {
  ETCD_BIN, ETCDCTL_BIN, freePort, isRoot, makeTempDir, postgresUser, runCommand, spawnTracked, waitFor,
  type EtcdCluster, type TrackedProcess,
} from '../harness/index.js';
import { agentctl, prepareNode, type AgentNode } from '../support/agent-cluster.js';

let dir = '';
let etcdProc: TrackedProcess;
let clientPort = 0;
let node: AgentNode;
const ROOT_PASSWORD = 'etcd-root-pass';

async function openssl(args: string[]): Promise<void> {
  await runCommand('/usr/bin/openssl', args, { cwd: dir, timeoutMs: 30_000 });
}

async function makeCerts(): Promise<void> {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await openssl(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=pgha-test-ca']);
  for (const [name, usage] of [['server', 'serverAuth,clientAuth'], ['client', 'clientAuth']] as const) {
    await writeFile(join(dir, `${name}.ext`), `subjectAltName=IP:127.0.0.1\nextendedKeyUsage=${usage}\n`);
    await openssl(['req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`]);
    await openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial',
      '-out', `${name}.pem`, '-days', '1', '-extfile', `${name}.ext`]);
  }
  // The agent runs as postgres and reads the client key.
  if (isRoot()) for (const f of ['ca.pem', 'client.pem', 'client.key']) chownSync(join(dir, f), postgresUser().uid, postgresUser().gid);
}

async function etcdctlTls(args: string[]): Promise<string> {
  const { stdout } = await runCommand(ETCDCTL_BIN, ['--endpoints', `https://127.0.0.1:${clientPort}`, '--cacert', join(dir, 'ca.pem'),
    '--cert', join(dir, 'client.pem'), '--key', join(dir, 'client.key'), '--dial-timeout', '3s', '--command-timeout', '10s', ...args],
  { env: { ...process.env, ETCDCTL_API: '3' }, timeoutMs: 30_000 });
  return stdout;
}

beforeAll(async () => {
  dir = await makeTempDir('etcd-tls-auth', { owner: 'postgres' });
  await makeCerts();
  clientPort = await freePort();
  const peerPort = await freePort();
  const url = `https://127.0.0.1:${clientPort}`;
  etcdProc = spawnTracked([ETCD_BIN, '--name', 'tls0', '--data-dir', join(dir, 'data'),
    '--listen-client-urls', url, '--advertise-client-urls', url,
    '--listen-peer-urls', `http://127.0.0.1:${peerPort}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${peerPort}`,
    '--initial-cluster', `tls0=http://127.0.0.1:${peerPort}`,
    '--cert-file', join(dir, 'server.pem'), '--key-file', join(dir, 'server.key'),
    '--trusted-ca-file', join(dir, 'ca.pem'), '--client-cert-auth'], { name: 'etcd-tls-auth', kind: 'etcd', teardownSignal: 'SIGKILL' });
  await waitFor('etcd over TLS to answer', async () => {
    await etcdctlTls(['get', 'probe']);
    return true;
  }, { timeoutMs: 30_000 });
  await etcdctlTls(['user', 'add', 'root', '--new-user-password', ROOT_PASSWORD]);
  await etcdctlTls(['auth', 'enable']);
  // prepareNode writes etcd3.hosts from these endpoints; `configure` turns it into https + auth.
  const etcd = { endpoints: [`127.0.0.1:${clientPort}`] } as unknown as EtcdCluster;
  node = await prepareNode({ name: 'node1', etcd, scope: 'tlsauth' }, {
    ttl: 10, loopWait: 2, retryTimeout: 4,
    configure: (config) => {
      config['etcd3'] = {
        hosts: `127.0.0.1:${clientPort}`, protocol: 'https',
        cacert: join(dir, 'ca.pem'), cert: join(dir, 'client.pem'), key: join(dir, 'client.key'),
        username: 'root', password: ROOT_PASSWORD,
      };
    },
  });
  node.start();
}, 180_000);

afterAll(async () => {
  await etcdProc?.kill();
});

describe('agent and agentctl through etcd with TLS client certificates and password auth', () => {
  it('the agent bootstraps and leads; its keys are in etcd', async () => {
    await waitFor('node1 to lead', async () => (await node.health('/primary')) === 200, { timeoutMs: 120_000 });
    const leader = await etcdctlTls(['--user', `root:${ROOT_PASSWORD}`, 'get', '/service/tlsauth/leader', '--print-value-only']);
    expect(leader.trim()).toBe('node1');
  });

  it('agentctl list reads the cluster through the same TLS and auth settings', async () => {
    const r = await agentctl(node.configPath, ['list', '--format', 'json']);
    expect(r.code, r.stderr).toBe(0);
    const list = JSON.parse(r.stdout) as { leader: string; members: { name: string }[] };
    expect(list.leader).toBe('node1');
    expect(list.members.map((m) => m.name)).toEqual(['node1']);
  });

  it('a wrong etcd password makes agentctl fail with a message that does not print it', async () => {
    const wrong = join(dir, 'wrong.yml');
    const config = parse(readFileSync(node.configPath, 'utf8')) as { etcd3: Record<string, unknown> };
    config.etcd3['password'] = 'not-the-password-x9';
    writeFileSync(wrong, stringify(config));
    const r = await agentctl(wrong, ['list']);
    expect(r.code).not.toBe(0);
    expect(r.stdout + r.stderr).not.toContain('not-the-password-x9');
    expect(r.stderr).toMatch(/auth|password|permission|denied/i);
  });
});
