// The workload a fault runs under: a writer on every node (its own connection, an INSERT of a
// unique id every 20-50 ms, recording who acknowledged which id and when) and a monitor of every
// node's pg_is_in_recovery() every 100 ms. Both connect to PostgreSQL directly, never through the
// suite's proxies, so a network cut between nodes does not cut the observer off.
import type pg from 'pg';
import type { AgentNode } from '../support/agent-cluster.js';
import type { Ack, RecoverySample } from './checker.js';

export const WRITES_TABLE = 'chaos_writes';

function connect(node: AgentNode): pg.Client {
  const c = node.client();
  c.on('error', () => undefined);
  return c;
}

const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Both loops stop at stop(); the recorded arrays only grow. Times are performance.now() ms. */
export class Workload {
  readonly acks: Ack[] = [];
  readonly samples: RecoverySample[] = [];
  private stopped = false;
  private loops: Promise<void>[] = [];

  constructor(private readonly nodes: readonly AgentNode[], private nextId: number) {}

  /** The next id this workload would write: ids are unique across rounds. */
  get idCursor(): number {
    return this.nextId;
  }

  start(): void {
    this.loops = [...this.nodes.map((n) => this.writeLoop(n)), ...this.nodes.map((n) => this.monitorLoop(n))];
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.loops);
  }

  private async writeLoop(node: AgentNode): Promise<void> {
    let client: pg.Client | null = null;
    while (!this.stopped) {
      const t0 = performance.now();
      try {
        if (!client) {
          client = connect(node);
          await client.connect();
        }
        const id = this.nextId++;
        const sentMs = performance.now();
        await client.query(`INSERT INTO ${WRITES_TABLE} (id, node) VALUES ($1, $2)`, [id, node.name]);
        this.acks.push({ id, node: node.name, sentMs, atMs: performance.now() });
      } catch {
        const c = client;
        client = null;
        await c?.end().catch(() => undefined);
      }
      const rest = 20 + Math.random() * 30 - (performance.now() - t0);
      if (rest > 0) await pause(rest);
    }
    await client?.end().catch(() => undefined);
  }

  private async monitorLoop(node: AgentNode): Promise<void> {
    let client: pg.Client | null = null;
    while (!this.stopped) {
      const t0 = performance.now();
      try {
        if (!client) {
          client = connect(node);
          await client.connect();
        }
        const sentMs = performance.now();
        const r = await client.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r');
        this.samples.push({ node: node.name, sentMs, atMs: performance.now(), inRecovery: r.rows[0]?.r ?? null });
      } catch {
        this.samples.push({ node: node.name, sentMs: t0, atMs: performance.now(), inRecovery: null });
        const c = client;
        client = null;
        await c?.end().catch(() => undefined);
      }
      const rest = 100 - (performance.now() - t0);
      if (rest > 0) await pause(rest);
    }
    await client?.end().catch(() => undefined);
  }
}

export async function createWritesTable(primary: AgentNode): Promise<void> {
  await primary.query(`CREATE TABLE IF NOT EXISTS ${WRITES_TABLE} (id bigint PRIMARY KEY, node text NOT NULL, at timestamptz DEFAULT now())`);
}

/** Every id >= fromId that `node` holds. */
export async function readIds(node: AgentNode, fromId: number): Promise<Set<number>> {
  const rows = await node.query<{ id: string }>(`SELECT id FROM ${WRITES_TABLE} WHERE id >= $1`, [fromId]);
  return new Set(rows.map((r) => Number(r.id)));
}
