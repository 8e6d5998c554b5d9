// Writers for the synchronous-mode tests: connections committing as fast as they can, keeping
// the ids PostgreSQL acknowledged, and the first node of a list that takes a write.
import pg from 'pg';
import { waitFor } from '../harness/index.js';
import { SUPERUSER_PASSWORD, type AgentNode } from './agent-cluster.js';

/** `n` connections committing as fast as they can on one node; ids acknowledged are kept. */
export class FastWriters {
  readonly acked: number[] = [];
  readonly times: number[] = [];
  lastError: string | null = null;
  private stopped = false;
  private seq = 0;
  private loops: Promise<void>[] = [];
  constructor(private readonly node: AgentNode, private readonly base: number) {}
  start(n: number): void {
    for (let i = 0; i < n; i++) this.loops.push(this.loop());
  }
  private async loop(): Promise<void> {
    let c: pg.Client | null = null;
    while (!this.stopped) {
      try {
        if (!c) {
          // A commit may wait for a synchronous standby longer than the harness's 5 s query timeout.
          c = new pg.Client({ host: '127.0.0.1', port: this.node.pgPort, user: 'postgres', password: SUPERUSER_PASSWORD, database: 'postgres', connectionTimeoutMillis: 2000, query_timeout: 60_000 });
          c.on('error', () => undefined);
          await c.connect();
        }
        const id = this.base + ++this.seq;
        await c.query('INSERT INTO acked (id) VALUES ($1)', [id]);
        this.acked.push(id);
        this.times.push(performance.now());
      } catch (err) {
        // The primary is gone: this connection is done (no retry against a demoted node).
        this.lastError = err instanceof Error ? err.message : String(err);
        this.stopped = true;
      }
    }
    await c?.end().catch(() => undefined);
  }
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.loops);
  }
  longestGapMs(): number {
    const t = [...this.times].sort((a, b) => a - b);
    let gap = 0;
    for (let i = 1; i < t.length; i++) gap = Math.max(gap, (t[i] ?? 0) - (t[i - 1] ?? 0));
    return Math.round(gap);
  }
}

export async function firstWritable(nodes: readonly AgentNode[]): Promise<AgentNode> {
  return waitFor('a write accepted by another node', async () => {
    for (const n of nodes) {
      try {
        await n.query('INSERT INTO acked (id) VALUES (-1 - (random() * 1e9)::bigint) ON CONFLICT DO NOTHING');
        return n;
      } catch {
        // not writable yet
      }
    }
    return null;
  }, { timeoutMs: 90_000, intervalMs: 50 });
}
