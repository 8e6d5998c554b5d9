// The PgPort contract (test/contract/pg-contract.ts) on the real adapter (src/postgres/pg-adapter.ts)
// over PostgreSQL 15, run as the postgres OS user in temp dirs; the same suite runs on the
// simulator's SimPg in test/unit/core/pg-contract-sim.test.ts.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { historyFileName } from '../../src/core/timeline-catchup.js';
import { createPgAdapter } from '../../src/postgres/pg-adapter.js';
import { postmasterWriteState } from '../../src/postgres/files.js';
import { systemClock } from '../../src/time/clock.js';
import type { PgPort } from '../../src/loop/pg-port.js';
import { waitFor } from '../harness/index.js';
import { testDynamicConfig } from '../unit/postgres/fixtures.js';
import { pgContract, type PgContractEnv } from '../contract/pg-contract.js';
import { makeLogger, makeNode, type TestNode } from './postgres-helpers.js';

pgContract('real adapter over PostgreSQL 15', async (): Promise<PgContractEnv> => {
  const { logger } = await makeLogger();
  // pg_rewind reads the old primary's WAL back to the checkpoint before the fork: keep enough of
  // it through the contract's checkpoints (production configs keep some too).
  const dynamic = { ...testDynamicConfig(), postgresql: { ...testDynamicConfig().postgresql, parameters: { wal_keep_size: '256MB' } } };
  const nodes: { node: TestNode; pg: PgPort }[] = [];
  // Every postmaster a call started is handed to the harness, so teardown stops it.
  const trackAll = (): void => {
    for (const n of nodes) n.node.track();
  };
  return {
    dynamic,
    async node(name) {
      const node = await makeNode(name, { logger });
      const pg = createPgAdapter({ config: node.config, logger: logger.child({ node: name }), runner: node.runner, clock: systemClock, dynamic: () => dynamic });
      nodes.push({ node, pg });
      return {
        pg,
        ref: { name, host: '127.0.0.1', port: node.port, apiUrl: `http://127.0.0.1:8008/patroni` },
        postmaster: () => postmasterWriteState(node.dataDir),
        historyFile: (timeline) => readFile(join(node.dataDir, 'pg_wal', historyFileName(timeline)), 'utf8').catch(() => null),
      };
    },
    async run(p) {
      try {
        return await p;
      } finally {
        trackAll();
      }
    },
    async eventually(what, fn, { withinMs }) {
      await waitFor(what, async () => (await fn()) || undefined, { timeoutMs: withinMs, intervalMs: 100 });
    },
    async close() {
      await Promise.all(nodes.map((n) => n.pg.close()));
    },
  };
});
