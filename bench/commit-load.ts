// A commit load for the sync-mode benchmark: `n` connections to one node, each committing
// single-row INSERTs as fast as it can, keeping the id, the completion time and the latency of
// every acknowledged commit. A connection stops at its first error: after a kill the old primary
// is gone, and a retry against a demoted or restarted node would blur what was acknowledged where.
import pg from 'pg';
import { SUPERUSER_PASSWORD, type AgentNode } from '../test/support/agent-cluster.js';

export const LOAD_TABLE = 'bench_commits';

export interface Commit {
  readonly id: number;
  /** performance.now() when the commit was acknowledged. */
  readonly atMs: number;
  readonly latencyMs: number;
}

export class CommitLoad {
  readonly commits: Commit[] = [];
  lastError: string | null = null;
  private stopped = false;
  private seq = 0;
  private loops: Promise<void>[] = [];

  /** `base` keeps ids unique across rounds on the same table. */
  constructor(private readonly node: AgentNode, private readonly base: number) {}

  start(connections: number): void {
    for (let i = 0; i < connections; i++) this.loops.push(this.loop());
  }

  private async loop(): Promise<void> {
    let c: pg.Client | null = null;
    while (!this.stopped) {
      try {
        if (!c) {
          // A commit may wait for a synchronous standby longer than the harness's 5 s query timeout.
          c = new pg.Client({
            host: '127.0.0.1', port: this.node.pgPort, user: 'postgres', password: SUPERUSER_PASSWORD, database: 'postgres',
            connectionTimeoutMillis: 2000, query_timeout: 60_000,
          });
          c.on('error', () => undefined);
          await c.connect();
        }
        const id = this.base + ++this.seq;
        const t0 = performance.now();
        await c.query(`INSERT INTO ${LOAD_TABLE} (id) VALUES ($1)`, [id]);
        const atMs = performance.now();
        this.commits.push({ id, atMs, latencyMs: atMs - t0 });
      } catch (err) {
        this.lastError = err instanceof Error ? err.message : String(err);
        break;
      }
    }
    await c?.end().catch(() => undefined);
  }

  /** Stops every connection (those blocked on a dead server end with their error). */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.loops);
  }

  /** Acknowledged ids that `node` does not have (queried in chunks). */
  async missingOn(node: AgentNode): Promise<number> {
    const ids = this.commits.map((c) => c.id);
    let present = 0;
    for (let i = 0; i < ids.length; i += 5000) {
      const chunk = ids.slice(i, i + 5000);
      const rows = await node.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${LOAD_TABLE} WHERE id = ANY($1::bigint[])`, [chunk]);
      present += Number(rows[0]?.n ?? 0);
    }
    return ids.length - present;
  }
}
