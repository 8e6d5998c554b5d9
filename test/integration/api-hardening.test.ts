// Issue 13 on a real agent (one node, real etcd and PostgreSQL): slow and idle clients cannot stop
// /primary from answering; half-sent requests are cut off at the headers timeout; cross-site and
// non-JSON admin requests are refused on a real socket; 200+ malformed requests each get a 4xx with
// a JSON error while the agent keeps serving /primary; an unknown key in etcd's `config` keeps the
// cluster in pause, and an undecodable one leaves the last valid config in force until PATCH repairs it.
import { readFileSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { etcdctl, waitFor } from '../harness/index.js';
import { patchConfig, startAgentCluster, type AgentCluster, type AgentNode } from '../support/agent-cluster.js';

let cluster: AgentCluster;
let node: AgentNode;
let base: string;
const sockets: Socket[] = [];

beforeAll(async () => {
  cluster = await startAgentCluster({ nodes: 1, ttl: 10, loopWait: 2, retryTimeout: 4, scope: 'hardening' });
  node = await cluster.waitForLeader(120_000);
  base = `http://127.0.0.1:${node.apiPort}`;
});

afterEach(() => {
  for (const s of sockets.splice(0)) s.destroy();
});

function open(first?: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port: node.apiPort }, () => {
      if (first !== undefined) s.write(first);
      resolve(s);
    });
    s.on('error', () => undefined);
    s.once('error', reject);
    // Flowing, so the server's hang-up shows as `closed`.
    s.resume();
    sockets.push(s);
  });
}

/** /primary latencies in ms, each request on a new connection (as HAProxy checks). */
async function primaryLatencies(count: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    const res = await fetch(`${base}/primary`, { headers: { connection: 'close' }, signal: AbortSignal.timeout(5_000) });
    await res.arrayBuffer();
    out.push(performance.now() - t0);
    expect(res.status).toBe(200);
  }
  return out;
}

const max = (xs: readonly number[]): number => Math.max(...xs);
const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

describe('slow and idle clients', () => {
  it('200 idle connections and 5 half-sent requests: /primary answers in time; the half-sent ones are cut off at the headers timeout', async () => {
    await primaryLatencies(20); // warm-up: the first requests after start pay for JIT and the agent's start-up work
    const baseline = await primaryLatencies(50);
    for (let i = 0; i < 200; i++) await open();
    const t0 = performance.now();
    const slow: Socket[] = [];
    for (let i = 0; i < 5; i++) slow.push(await open('POST /switchover HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Slow: '));
    const loaded = await primaryLatencies(50);
    console.log(JSON.stringify({ primaryMs: { idleConnections: 0, median: median(baseline), max: max(baseline) } }));
    console.log(JSON.stringify({ primaryMs: { idleConnections: 200, halfSent: 5, median: median(loaded), max: max(loaded) } }));
    expect(max(loaded)).toBeLessThan(1_000);
    // Node's default would keep them 60-90 s; ours is 10 s, checked every second.
    await waitFor('the half-sent requests to be cut off', () => slow.every((s) => s.closed), { timeoutMs: 20_000, intervalMs: 100 });
    const cutAfterMs = performance.now() - t0;
    console.log(JSON.stringify({ halfSentCutAfterMs: Math.round(cutAfterMs) }));
    expect(cutAfterMs).toBeLessThan(15_000);
  });

  it('past the connection cap (300 idle sockets) the oldest idle ones are closed and /primary still answers', async () => {
    const idle: Socket[] = [];
    for (let i = 0; i < 300; i++) idle.push(await open());
    await waitFor('the oldest idle sockets past the cap to be closed', () => idle.filter((s) => s.closed).length >= 44, { timeoutMs: 10_000, intervalMs: 50 });
    const loaded = await primaryLatencies(20);
    console.log(JSON.stringify({ primaryMs: { idleConnections: 300, median: median(loaded), max: max(loaded) }, closedByCap: idle.filter((s) => s.closed).length }));
    expect(max(loaded)).toBeLessThan(1_000);
    expect(node.agent?.output(1_000_000)).toContain('rest api connection limit reached');
  });
});

describe('cross-site requests on a real socket', () => {
  it('a text/plain body is 415, another Origin or Sec-Fetch-Site: cross-site is 403; nothing changes', async () => {
    const plain = await fetch(`${base}/config`, { method: 'PATCH', body: '{"pause": true}', headers: { 'content-type': 'text/plain' } });
    expect(plain.status).toBe(415);
    expect(((await plain.json()) as { error: string }).error).toMatch(/^Content-Type must be application\/json/);
    const origin = await fetch(`${base}/config`, { method: 'PATCH', body: '{"pause": true}', headers: { 'content-type': 'application/json', origin: 'http://evil.example' } });
    expect(origin.status).toBe(403);
    expect(((await origin.json()) as { error: string }).error).toMatch(/another site/);
    const site = await fetch(`${base}/reload`, { method: 'POST', headers: { 'sec-fetch-site': 'cross-site' } });
    expect(site.status).toBe(403);
    await site.arrayBuffer();
    expect((await node.status())?.['pause']).not.toBe(true);
  });
});

// A small deterministic generator (no Math.random: a failure must be reproducible).
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

interface Bad { method: string; path: string; body?: string; headers: Record<string, string> }

const BAD_BODIES = [
  '{', '{"leader": "node1",', '[1,2,3]', '"just a string"', '42', 'null', '{"__proto__": {"polluted": 1}}',
  '{"leader": 5}', '{"candidate": ["a"]}', '{"leader": "node1", "candidat": "x"}', '{"scheduled_at": "tomorrow"}',
  '\u0000\u0001\u0002', '{"a":'.repeat(200), `{"leader": "${'x'.repeat(70_000)}"}`, '{"leader": "\ud800"}',
];
// Invalid for their route whatever else happens: none of these may restart or reinitialize anything.
// (restart_pending takes any value, as in Patroni: not in this list.)
const BAD_ACTIONS = ['{"force": "yes"}', '{"timeout": true}', '{"schedule": 5}', '{"role": 7}', '{"from_leader": "x"}', '{"x": 1}', '{'];
const BAD_CONFIG = ['{"ttl": "long"}', '{"ttl": 1}', '{"loop_wiat": 5}', '{"postgresql": {"parameters": []}}', '{"pause": "maybe!"}', '{}', '[]', '{'];
const TYPES = ['application/json', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=z', undefined];

function malformed(n: number): Bad[] {
  const r = rng(13);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
  const out: Bad[] = [];
  for (let i = 0; i < n; i++) {
    const type = pick(TYPES);
    const headers: Record<string, string> = type === undefined ? {} : { 'content-type': type };
    switch (i % 8) {
      case 0: out.push({ method: 'POST', path: pick(['/switchover', '/failover']), body: pick(BAD_BODIES), headers }); break;
      case 1: out.push({ method: 'POST', path: pick(['/restart', '/reinitialize']), body: pick(BAD_ACTIONS), headers }); break;
      case 2: out.push({ method: pick(['PATCH', 'PUT']), path: '/config', body: pick(BAD_CONFIG), headers }); break;
      case 3: out.push({ method: 'GET', path: pick(['/replica?lag=16XB', '/replica?lag=-1', '/async?lag=%zz', '/readiness?mode=fast']), headers: {} }); break;
      case 4: out.push({ method: pick(['GET', 'POST', 'DELETE', 'PATCH']), path: pick(['/nope', '/switchover/x', '/../etc/passwd', '/%00', `/${'a'.repeat(3000)}`]), headers }); break;
      case 5: out.push({ method: 'POST', path: '/reload', headers: { origin: pick(['http://evil.example', 'null', 'file://']) } }); break;
      case 6: out.push({ method: 'POST', path: '/switchover', body: '{"leader": "node1"}', headers: { 'content-type': pick(['text/plain', 'text/html', 'application/xml']) } }); break;
      default: out.push({ method: 'POST', path: '/failover', body: pick(BAD_BODIES), headers: { 'content-type': 'application/json', 'sec-fetch-site': pick(['cross-site', 'same-origin']) } }); break;
    }
  }
  return out;
}

describe('malformed requests on a real agent', () => {
  it('240 malformed requests: each a 4xx with a JSON error; /primary keeps answering; the agent lives', async () => {
    const requests = malformed(240);
    const statuses = new Map<number, number>();
    for (const [i, req] of requests.entries()) {
      const res = await fetch(`${base}${req.path}`, {
        method: req.method, headers: req.headers, signal: AbortSignal.timeout(10_000),
        ...(req.body === undefined ? {} : { body: req.body }),
      });
      const text = await res.text();
      const what = `#${i} ${req.method} ${req.path.slice(0, 40)} ${JSON.stringify(req.headers)} ${req.body?.slice(0, 60) ?? ''} -> ${res.status} ${text.slice(0, 200)}`;
      expect(res.status, what).toBeGreaterThanOrEqual(400);
      expect(res.status, what).toBeLessThan(500);
      expect(res.headers.get('content-type') ?? '', what).toMatch(/^application\/json/);
      expect(typeof (JSON.parse(text) as { error?: unknown }).error, what).toBe('string');
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      if (i % 40 === 39) expect(await node.health('/primary'), `after #${i}`).toBe(200);
    }
    console.log(JSON.stringify({ fuzzStatuses: Object.fromEntries(statuses) }));
    expect(node.agentRunning()).toBe(true);
    expect(await node.health('/primary')).toBe(200);
    expect((await node.status())?.['pause']).not.toBe(true);
  });
});

async function ticks(): Promise<number> {
  const m = /^pg_ha_agent_ticks_total(?:\{[^}]*\})? (\d+)/m.exec(await (await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(5_000) })).text());
  if (!m) throw new Error('no pg_ha_agent_ticks_total in /metrics');
  return Number(m[1]);
}

describe("etcd's config key", () => {
  const key = (): string => `/service/${cluster.scope}/config`;
  const readConfig = async (): Promise<Record<string, unknown>> => JSON.parse(await etcdctl(cluster.etcd, ['get', key(), '--print-value-only'])) as Record<string, unknown>;

  it('an unknown key does not drop the config: the cluster stays paused and PATCH keeps the key', async () => {
    expect(await patchConfig(node, { pause: true })).toBe(200);
    await waitFor('the agent in pause', async () => (await node.status())?.['pause'] === true, { timeoutMs: 30_000 });
    const stored = await readConfig();
    await etcdctl(cluster.etcd, ['put', key(), JSON.stringify({ ...stored, quorum_commit_mode: 'on' })]);
    // Two ticks after the change: a dropped config would have turned pause off by then.
    const t0 = await ticks();
    await waitFor('two more ticks', async () => (await ticks()) >= t0 + 2, { timeoutMs: 20_000 });
    expect((await node.status())?.['pause']).toBe(true);
    expect(node.agent?.output(1_000_000)).toContain('unknown configuration keys in etcd kept and ignored');
    const got = (await (await fetch(`${base}/config`)).json()) as Record<string, unknown>;
    expect(got).toMatchObject({ pause: true, quorum_commit_mode: 'on' });
    expect(await patchConfig(node, { maximum_lag_on_failover: 2097152 })).toBe(200);
    expect(await readConfig()).toMatchObject({ maximum_lag_on_failover: 2097152, pause: true, quorum_commit_mode: 'on' });
  });

  it('an undecodable value leaves the last valid config in force (still paused); PATCH on the stored JSON repairs it', async () => {
    const stored = await readConfig();
    await etcdctl(cluster.etcd, ['put', key(), JSON.stringify({ ...stored, ttl: 'long' })]);
    const t0 = await ticks();
    await waitFor('two more ticks', async () => (await ticks()) >= t0 + 2, { timeoutMs: 20_000 });
    expect((await node.status())?.['pause']).toBe(true);
    expect(node.agent?.output(1_000_000)).toContain('the last valid one stays in force');
    const got = await fetch(`${base}/config`);
    expect(got.status).toBe(200);
    expect(got.headers.get('x-config-invalid')).toBe('true');
    expect(await got.json()).toMatchObject({ ttl: 'long', pause: true });
    expect(await patchConfig(node, { ttl: 10 })).toBe(200);
    expect(await readConfig()).toMatchObject({ ttl: 10, pause: true, quorum_commit_mode: 'on' });
    expect(await patchConfig(node, { pause: null })).toBe(200);
    await waitFor('the agent out of pause', async () => (await node.status())?.['pause'] !== true, { timeoutMs: 30_000 });
    expect(await node.health('/primary')).toBe(200);
  });
});

describe('a reload that changes what only a restart applies', () => {
  it('keeps the running name and PostgreSQL settings, names them, and the leader stays the leader', async () => {
    const original = readFileSync(node.configPath, 'utf8');
    const edited = parse(original) as { name: string; postgresql: { parameters?: Record<string, unknown> } };
    edited.name = 'renamed-by-reload';
    edited.postgresql.parameters = { ...edited.postgresql.parameters, work_mem: '7MB' };
    writeFileSync(node.configPath, stringify(edited));
    const since = Date.now();
    try {
      const reload = await fetch(`${base}/reload`, { method: 'POST' });
      expect(reload.status).toBe(202);
      await reload.arrayBuffer();
      // Three ticks after the reload, each one a leader renewing its key under its own name.
      const ticks = await waitFor('three ticks after the reload', async () => {
        const t = node.logSince(since).filter((j) => typeof j['reason'] === 'string' && Array.isArray(j['actions']));
        return t.length >= 3 ? t : null;
      }, { timeoutMs: 30_000 });
      for (const t of ticks) expect(String(t['reason'])).toMatch(/^leader: /);
      expect((await etcdctl(cluster.etcd, ['get', '/service/hardening/leader', '--print-value-only'])).trim()).toBe(node.name);
      expect(await node.health('/primary')).toBe(200);
      const said = node.logSince(since).find((j) => j['code'] === 'RELOAD_NEEDS_RESTART');
      expect(said?.['keys']).toEqual(expect.arrayContaining(['name', 'postgresql.parameters.work_mem']));
    } finally {
      writeFileSync(node.configPath, original);
      await (await fetch(`${base}/reload`, { method: 'POST' })).arrayBuffer();
    }
  });
});

describe('reload of restapi settings (last: it turns authentication on)', () => {
  it('POST /reload applies a new restapi.authentication at once; the start-up warning named the way to open the API', async () => {
    expect(node.agent?.output(1_000_000)).toContain('restapi.authentication is not set: mutating REST requests are accepted from this host only');
    const text = readFileSync(node.configPath, 'utf8');
    const config = parse(text) as { restapi: Record<string, unknown> };
    config.restapi['authentication'] = { username: 'admin', password: 'reload-pass' };
    writeFileSync(node.configPath, stringify(config));
    const reload = await fetch(`${base}/reload`, { method: 'POST' });
    expect(reload.status).toBe(202);
    await reload.arrayBuffer();
    const auth = `Basic ${Buffer.from('admin:reload-pass').toString('base64')}`;
    const denied = await waitFor('the new password to be required', async () => {
      const res = await fetch(`${base}/reload`, { method: 'POST' });
      await res.arrayBuffer();
      return res.status === 401 ? res : null;
    }, { timeoutMs: 10_000 });
    expect(denied.headers.get('www-authenticate')).toBe('Basic realm="Patroni"');
    const ok = await fetch(`${base}/reload`, { method: 'POST', headers: { authorization: auth } });
    expect(ok.status).toBe(202);
    await ok.arrayBuffer();
    expect(node.agent?.output(1_000_000)).toContain('rest api access settings reloaded');
  });
});
