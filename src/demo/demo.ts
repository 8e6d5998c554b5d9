#!/usr/bin/env node
// npm run demo: a whole cluster on one machine. etcd, three PostgreSQL instances and three agents on
// loopback, the cluster printed as it changes, everything stopped and removed on Ctrl-C.
import { spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, mkdtempSync, openSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { asPostgres, freePort, isRoot, spawnLogged, stopChild, which } from './processes.js';
import { renderNodes, type NodeView } from './render.js';

const PG_BIN = process.env['PGHA_DEMO_PG_BIN'] ?? '/usr/lib/postgresql/15/bin';
const NODES = ['node1', 'node2', 'node3'];

function ensureEtcd(): string {
  const found = which('etcd');
  if (found) return found;
  if (isRoot() && which('apt-get')) {
    console.log('etcd is not installed: installing the Debian packages etcd-server etcd-client ...');
    spawnSync('apt-get', ['update'], { stdio: 'inherit' });
    const r = spawnSync('apt-get', ['install', '-y', 'etcd-server', 'etcd-client'], { stdio: 'inherit' });
    const again = which('etcd');
    if (r.status === 0 && again) return again;
  }
  console.error('etcd is missing: install it with `apt-get install -y etcd-server etcd-client` (Debian package etcd-server)');
  process.exit(2);
}

function postgresOwned(path: string): void {
  if (!isRoot()) return;
  const r = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
  const g = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
  chownSync(path, Number(r.stdout.trim()), Number(g.stdout.trim()));
}

function nodeConfig(args: { name: string; dir: string; etcdPort: number; pgPort: number; apiPort: number }): string {
  return `scope: demo
namespace: /service/
name: ${args.name}
restapi:
  listen: 127.0.0.1:${args.apiPort}
  connect_address: 127.0.0.1:${args.apiPort}
etcd3:
  hosts: 127.0.0.1:${args.etcdPort}
bootstrap:
  dcs:
    ttl: 10
    loop_wait: 2
    retry_timeout: 4
    maximum_lag_on_failover: 1048576
    postgresql:
      use_pg_rewind: true
      use_slots: true
postgresql:
  listen: 127.0.0.1:${args.pgPort}
  connect_address: 127.0.0.1:${args.pgPort}
  data_dir: ${join(args.dir, args.name, 'data')}
  bin_dir: ${PG_BIN}
  pgpass: ${join(args.dir, args.name, 'pgpass')}
  authentication:
    superuser:
      username: postgres
      password: demo-superuser
    replication:
      username: replicator
      password: demo-replication
    rewind:
      username: rewind_user
      password: demo-rewind
  parameters:
    unix_socket_directories: ${join(args.dir, args.name)}
  use_pg_rewind: true
`;
}

async function fetchNode(name: string, apiPort: number): Promise<NodeView> {
  try {
    const res = await fetch(`http://127.0.0.1:${apiPort}/patroni`, { signal: AbortSignal.timeout(1000) });
    return { name, apiPort, status: (await res.json()) as Record<string, unknown> };
  } catch {
    return { name, apiPort, status: null };
  }
}

interface Demo {
  readonly dir: string;
  readonly etcd: ChildProcess;
  readonly children: { name: string; child: ChildProcess }[];
  readonly apiPorts: number[];
}

async function startEtcdAndAgents(): Promise<Demo> {
  const etcdBin = ensureEtcd();
  const dir = mkdtempSync(join(tmpdir(), 'pg-ha-agent-demo-'));
  postgresOwned(dir);
  const agentBin = fileURLToPath(new URL('../bin/pg-ha-agent.js', import.meta.url));
  const etcdPort = await freePort();
  const peerPort = await freePort();
  const log = (f: string) => openSync(join(dir, f), 'a');
  console.log(`demo directory ${dir} (logs: etcd.log, node*.log)`);
  const etcd = spawnLogged(etcdBin, ['--name', 'demo', '--data-dir', join(dir, 'etcd'),
    '--listen-client-urls', `http://127.0.0.1:${etcdPort}`, '--advertise-client-urls', `http://127.0.0.1:${etcdPort}`,
    '--listen-peer-urls', `http://127.0.0.1:${peerPort}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${peerPort}`,
    '--initial-cluster', `demo=http://127.0.0.1:${peerPort}`], log('etcd.log'));
  const children = [{ name: 'etcd', child: etcd }];
  const apiPorts: number[] = [];
  for (const name of NODES) {
    const nodeDir = join(dir, name);
    spawnSync('mkdir', ['-p', nodeDir]);
    postgresOwned(nodeDir);
    const apiPort = await freePort();
    apiPorts.push(apiPort);
    const cfg = join(nodeDir, 'config.yml');
    writeFileSync(cfg, nodeConfig({ name, dir, etcdPort, pgPort: await freePort(), apiPort }));
    postgresOwned(cfg);
    const [cmd, args] = asPostgres(process.execPath, [agentBin, cfg]);
    children.push({ name, child: spawnLogged(cmd, args, log(`${name}.log`)) });
  }
  console.log(`started etcd (127.0.0.1:${etcdPort}) and agents ${NODES.join(', ')}; Ctrl-C stops everything\n`);
  return { dir, etcd, children, apiPorts };
}

/** Agents first (they stop PostgreSQL), then any postmaster left, then etcd; the directory goes. */
async function stopDemo(demo: Demo): Promise<void> {
  console.log('\nstopping agents, postgresql and etcd ...');
  for (const c of demo.children.filter((x) => x.name !== 'etcd')) await stopChild(c.child, 'SIGTERM', 30_000);
  for (const name of NODES) {
    const data = join(demo.dir, name, 'data');
    if (existsSync(join(data, 'postmaster.pid'))) {
      const [cmd, args] = asPostgres(join(PG_BIN, 'pg_ctl'), ['stop', '-D', data, '-m', 'immediate', '-w']);
      spawnSync(cmd, args, { stdio: 'ignore' });
    }
  }
  await stopChild(demo.etcd, 'SIGTERM', 10_000);
  rmSync(demo.dir, { recursive: true, force: true });
  console.log('done');
}

async function main(): Promise<void> {
  const demo = await startEtcdAndAgents();
  let stopping = false;
  const stopAll = async () => {
    if (stopping) return;
    stopping = true;
    await stopDemo(demo);
    process.exit(0);
  };
  process.on('SIGINT', () => void stopAll());
  process.on('SIGTERM', () => void stopAll());

  let last = '';
  const reported = new Set<string>();
  for (;;) {
    const views = await Promise.all(NODES.map((n, i) => fetchNode(n, demo.apiPorts[i] ?? 0)));
    const table = renderNodes(views);
    if (table !== last) {
      console.log(`${new Date().toISOString()}\n${table}\n`);
      last = table;
    }
    for (const c of demo.children) {
      if (c.child.exitCode !== null && !stopping && !reported.has(c.name)) {
        reported.add(c.name);
        console.error(`${c.name} exited with code ${c.child.exitCode}; see ${join(demo.dir, c.name === 'etcd' ? 'etcd.log' : `${c.name}.log`)}`);
      }
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

void main();
