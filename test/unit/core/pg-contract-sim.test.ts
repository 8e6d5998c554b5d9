// The PgPort contract (test/contract/pg-contract.ts) on the simulator's SimPg over the model
// PostgreSQL, in virtual time: the same suite runs on the real adapter in
// test/integration/pg-contract.test.ts. No agent runs: each node gets a stand-in runtime (the
// process whose fence flag SimPg keeps), and the world steps (streaming, writes) as in a simulation.
import { formatLsn } from '../../../src/core/lsn.js';
import type { AgentRuntime, SimNode, WorldState } from '../../support/sim/model.js';
import { createWorld, step } from '../../support/sim/index.js';
import { SimPg } from '../../support/sim/sim-pg.js';
import { pgContract, type PgContractEnv, type PgContractNode } from '../../contract/pg-contract.js';

/** A seed whose draws let every case through (the model's initdb fails on 10% of its draws). */
const SEED = 3;
const MAX_STEPS_PER_CALL = 400;

/** The model keeps a timeline's parents and their ends: what its history file would say. */
function historyText(n: SimNode, timeline: number): string | null {
  if (n.pg.dataDir === 'empty' || timeline < 2 || timeline > n.pg.tl) return null;
  return n.pg.history.filter((h) => h.tl < timeline).map((h) => `${h.tl}\t${formatLsn(h.end)}\tsimulated\n`).join('');
}

function standIn(w: WorldState, n: SimNode): AgentRuntime {
  return {
    owner: w.vt.owner(`contract-${n.name}`), fenced: false, status: null, lastReason: '', haltReason: null,
    lease: () => ({ leaseId: null, validUntilMs: 0 }), etcdRead: () => 'read',
    dynamic: () => w.bootstrapDcs,
    wake: () => undefined,
    startingAs: () => null,
    terminate: () => undefined,
    stop: () => undefined,
  };
}

pgContract('SimPg (simulator)', async (): Promise<PgContractEnv> => {
  const w = createWorld(SEED);
  let used = 0;
  const env: PgContractEnv = {
    dynamic: w.bootstrapDcs,
    async node() {
      const n = w.nodes[used++];
      if (n === undefined) throw new Error(`the simulated world has only ${w.nodes.length} nodes`);
      const agent = standIn(w, n);
      n.agent = agent;
      const pg = new SimPg(w, n, agent.owner);
      const node: PgContractNode = {
        pg,
        ref: { name: n.name, host: n.host, port: 5432, apiUrl: `http://${n.host}:8008/patroni` },
        postmaster: () => pg.postmasterState(),
        historyFile: (timeline) => Promise.resolve(historyText(n, timeline)),
      };
      return node;
    },
    async run<T>(p: Promise<T>): Promise<T> {
      let settled = false;
      p.then(() => { settled = true; }, () => { settled = true; });
      for (let i = 0; i < MAX_STEPS_PER_CALL && !settled; i++) await step(w);
      if (!settled) throw new Error(`a SimPg call did not settle within ${MAX_STEPS_PER_CALL} steps of virtual time`);
      return p;
    },
    async eventually(what, fn, { withinMs }) {
      const until = w.vt.nowMs + withinMs;
      while (!(await fn())) {
        if (w.vt.nowMs > until) throw new Error(`not within ${withinMs} ms of virtual time: ${what}`);
        await step(w);
      }
    },
    async close() {
      for (const n of w.nodes) n.agent = null;
    },
  };
  return env;
});
