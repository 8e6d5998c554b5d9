// Fakes for agentctl unit tests: a mutable cluster (etcd's view plus each member's /patroni), a
// REST client answering from it, a terminal with scripted answers and a fake clock.
import { DEFAULT_DYNAMIC_CONFIG } from '../../../src/config/dynamic.js';
import type { DynamicConfig } from '../../../src/config/types.js';
import type { ClusterView, FailoverRequest, HistoryEntry, MemberView } from '../../../src/core/cluster.js';
import type { DcsError } from '../../../src/dcs/port.js';
import type { ClusterReader, CtlContext, CtlIo, OutputFormat } from '../../../src/cli/context.js';
import type { CtlConfig } from '../../../src/cli/ctl-config.js';
import type { RestAnswer, RestClient, RestRequest } from '../../../src/cli/http.js';
import { RestError } from '../../../src/cli/http.js';

export type Status = Record<string, unknown>;

export interface FakeMember {
  view: MemberView;
  status: Status | null;
  /** /primary answer (null: unreachable). */
  primary: number | null;
}

export type Handler = (req: RestRequest, member: string, body: unknown) => RestAnswer | undefined | Promise<RestAnswer | undefined>;

export class FakeWorld {
  readonly members = new Map<string, FakeMember>();
  leader: string | null = 'a';
  config: DynamicConfig | null = { ...DEFAULT_DYNAMIC_CONFIG, ttl: 10, loop_wait: 2, retry_timeout: 4 };
  failover: FailoverRequest | null = null;
  history: HistoryEntry[] = [];
  optime: number | null = 5_000_000;
  initialize: string | null = '7300000000000000001';
  etcdDown: DcsError | null = null;
  removed = false;
  readonly requests: { method: string; url: string; member: string; body: unknown }[] = [];
  handlers: Handler[] = [];

  constructor(names: readonly string[] = ['a', 'b', 'c']) {
    names.forEach((name, i) => this.addMember(name, i));
  }

  addMember(name: string, i: number, over: Partial<MemberView> = {}): void {
    const isLeader = name === this.leader;
    const view: MemberView = {
      name, connUrl: `postgres://10.0.0.${i + 1}:5432/postgres`, apiUrl: `http://10.0.0.${i + 1}:8008/patroni`,
      state: 'running', role: isLeader ? 'primary' : 'replica', timeline: 1, xlogLocation: 5_000_000,
      ...(isLeader ? {} : { receiveLsn: 5_000_000, replayLsn: 5_000_000, replicationState: 'streaming' }),
      tags: {}, agent: 'pg-ha-agent/test', reason: isLeader ? 'leader: renewing the lease' : 'replica streaming from a',
      modRevision: 10 + i, leaseId: '7', ...over,
    };
    this.members.set(name, { view, status: this.statusFor(view), primary: isLeader ? 200 : 503 });
  }

  statusFor(v: MemberView): Status {
    const replica = v.role === 'replica';
    return {
      state: v.state, role: v.role, timeline: v.timeline, postmaster_start_time: '2026-01-01 10:00:00+00',
      xlog: replica ? { received_location: v.receiveLsn, replayed_location: v.replayLsn } : { location: v.xlogLocation },
      ...(replica && v.replicationState ? { replication_state: v.replicationState } : {}),
      ...(this.config?.pause ? { pause: true } : {}),
      tags: v.tags,
      pg_ha_agent: { last_decision: { reason: v.reason ?? '', actions: [] } },
    };
  }

  member(name: string): FakeMember {
    const m = this.members.get(name);
    if (!m) throw new Error(`no fake member ${name}`);
    return m;
  }

  view(): ClusterView {
    return {
      revision: 100,
      initialize: this.initialize,
      config: this.config ? { value: this.config, modRevision: 5 } : null,
      leader: this.leader ? { name: this.leader, createRevision: 20, modRevision: 20, leaseId: '7' } : null,
      members: [...this.members.values()].map((m) => m.view),
      failover: this.failover ? { value: this.failover, modRevision: 30 } : null,
      sync: null,
      history: this.history.length > 0 ? { value: this.history, modRevision: 3 } : null,
      status: this.optime === null ? null : { optime: this.optime },
      invalid: [],
    };
  }

  reader(): ClusterReader {
    return {
      snapshot: async () => {
        if (this.etcdDown) throw this.etcdDown;
        return this.view();
      },
      removeCluster: async () => {
        if (this.etcdDown) throw this.etcdDown;
        this.removed = true;
      },
      close: async () => undefined,
    };
  }

  private memberAt(url: URL): string | null {
    for (const [name, m] of this.members) if (new URL(m.view.apiUrl).host === url.host) return name;
    return null;
  }

  rest(): RestClient {
    return {
      call: async (req) => {
        const url = new URL(req.url);
        const name = this.memberAt(url);
        if (name === null) throw new RestError(`connection to ${req.url} refused (is the agent running?)`);
        const m = this.member(name);
        if (req.method !== 'GET') this.requests.push({ method: req.method, url: url.pathname, member: name, body: req.body });
        for (const h of this.handlers) {
          const a = await h(req, name, req.body);
          if (a) return a;
        }
        if (m.status === null) throw new RestError(`connection to ${req.url} refused (is the agent running?)`);
        if (req.method === 'GET' && url.pathname === '/patroni') return json(200, m.status);
        if (req.method === 'GET' && url.pathname === '/primary') {
          if (m.primary === null) throw new RestError('refused');
          return json(m.primary, m.status);
        }
        if (req.method === 'PATCH' && url.pathname === '/config') {
          const body = req.body as Record<string, unknown>;
          if (this.config) {
            const next: Record<string, unknown> = { ...this.config };
            for (const [k, v] of Object.entries(body)) if (v === null) delete next[k]; else next[k] = v;
            this.config = { ...DEFAULT_DYNAMIC_CONFIG, ...next } as DynamicConfig;
          }
          return json(200, this.config);
        }
        return { status: 404, text: '{"error":"no such endpoint"}', json: { error: 'no such endpoint' } };
      },
    };
  }
}

export function json(status: number, body: unknown): RestAnswer {
  return { status, text: JSON.stringify(body), json: body };
}

export function text(status: number, body: string): RestAnswer {
  return { status, text: body, json: undefined };
}

export function errorAnswer(status: number, message: string): RestAnswer {
  return json(status, { error: message });
}

export class FakeIo implements CtlIo {
  stdout = '';
  stderr = '';
  readonly questions: string[] = [];
  constructor(private readonly answers: (string | null)[] = [], readonly interactive = false) {}
  out(t: string): void {
    this.stdout += t;
  }
  err(t: string): void {
    this.stderr += t;
  }
  async ask(q: string): Promise<string | null> {
    this.questions.push(q);
    this.stderr += q;
    return this.answers.length > 0 ? this.answers.shift() ?? null : null;
  }
}

export const CONFIG: CtlConfig = {
  scope: 'demo', namespace: '/service/', etcd3: { hosts: [{ host: '127.0.0.1', port: 2379 }], protocol: 'http' },
  rest: { insecure: false }, configFile: '/etc/pg-ha-agent/node1.yml',
};

export class FakeClock {
  now = 1000;
  wall = Date.UTC(2026, 0, 1, 10, 0, 0);
  monoMs = (): number => this.now;
  wallNowMs = (): number => this.wall + this.now;
}

export function makeCtx(world: FakeWorld, opts: { io?: FakeIo; format?: OutputFormat; clock?: FakeClock } & Partial<CtlContext> = {}): CtlContext & { io: FakeIo; clock: FakeClock } {
  const clock = opts.clock ?? new FakeClock();
  const io = opts.io ?? new FakeIo();
  return {
    config: CONFIG, dcs: world.reader(), rest: world.rest(), format: 'table',
    sleep: async (ms: number) => {
      clock.now += ms;
      await new Promise((r) => setImmediate(r));
    },
    ...opts,
    io, clock,
  };
}
