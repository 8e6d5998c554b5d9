// Restarts of an agent under a write load, measured the same way for pg-ha-agent (restart in
// place) and for Patroni (plain restart; pause, restart, resume): the longest gap between
// acknowledged writes, how often the node acknowledging writes changed, and acknowledged writes
// missing from the primary at the end. Shared by test/integration/agent-restart.test.ts and bench/.
import type { AgentNode } from './agent-cluster.js';
import type { Writer } from './agent-cluster.js';

export interface WriteFacts {
  readonly acked: number;
  readonly longestWriteGapMs: number;
  /** Times the node acknowledging writes changed (a failover or switchover each). */
  readonly primaryChanges: number;
  /** Acknowledged writes the final primary does not have. */
  readonly lostWrites: number;
  readonly nodesThatAcked: readonly string[];
}

export async function writeFacts(writer: Writer, fromMs: number, primary: AgentNode): Promise<WriteFacts> {
  const acked = [...writer.acked].filter((a) => a.atMs >= fromMs).sort((a, b) => a.atMs - b.atMs);
  let changes = 0;
  for (let i = 1; i < acked.length; i++) if (acked[i]?.node !== acked[i - 1]?.node) changes++;
  const rows = await primary.query<{ id: string }>('SELECT id FROM writes');
  const have = new Set(rows.map((r) => Number(r.id)));
  return {
    acked: acked.length,
    longestWriteGapMs: Math.round(writer.longestGapMs(fromMs)),
    primaryChanges: changes,
    lostWrites: acked.filter((a) => !have.has(a.id)).length,
    nodesThatAcked: [...new Set(acked.map((a) => a.node))],
  };
}
