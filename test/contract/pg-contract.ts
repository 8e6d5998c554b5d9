// The PgPort contract: what the agent loop and its jobs rely on from the local PostgreSQL, observed
// through the port only. One suite, run on the simulator's SimPg (test/unit/core/pg-contract-sim.test.ts)
// and on the real adapter over PostgreSQL 15 (test/integration/pg-contract.test.ts), so the model
// the simulator checks the real loop against stays honest. The cases share three nodes and run in
// order (a fresh initdb per case would cost the real run a minute): a primary, its replica, and a
// node whose data directory stays empty.
import { afterAll, describe, expect, it } from 'vitest';
import type { DynamicConfig } from '../../src/config/types.js';
import type { MemberRef } from '../../src/core/decide-types.js';
import type { LocalPg } from '../../src/core/local-pg.js';
import { formatLsn } from '../../src/core/lsn.js';
import type { PgPort } from '../../src/loop/pg-port.js';

export interface PgContractNode {
  readonly pg: PgPort;
  /** How peers reach this node's PostgreSQL. */
  readonly ref: MemberRef;
  /** Ground truth from the data directory (postmaster.pid, standby.signal): what the fence enforcers arm on. */
  postmaster(): { readonly alive: boolean; readonly mayBeWritable: boolean };
  /** Ground truth: the timeline history file PostgreSQL keeps in pg_wal for `timeline`, or null. */
  historyFile(timeline: number): Promise<string | null>;
}

export interface PgContractEnv {
  /** A node with a fresh, empty data directory. */
  node(name: string): Promise<PgContractNode>;
  readonly dynamic: DynamicConfig;
  /** Await a PgPort call: the simulator runs its virtual time until the call settles. */
  run<T>(p: Promise<T>): Promise<T>;
  /** Wait until fn() holds (the simulator steps its world; real PostgreSQL is polled). */
  eventually(what: string, fn: () => Promise<boolean>, opts: { withinMs: number }): Promise<void>;
  close(): Promise<void>;
}

const STOP_MS = 30_000;

type Running = Extract<LocalPg, { kind: 'running' }>;

function running(l: LocalPg): Running {
  if (l.kind !== 'running') throw new Error(`expected PostgreSQL running, observed ${l.kind}`);
  return l;
}

/** A refusal is a verdict: the call rejects and says the next tick should not simply retry it. */
async function refused(p: Promise<unknown>): Promise<void> {
  const err: unknown = await p.then(() => null, (e: unknown) => e);
  expect(err, 'expected the call to be refused').toBeInstanceOf(Error);
  expect((err as { retryable?: boolean }).retryable ?? false).toBe(false);
}

function aborted(): AbortSignal {
  const ac = new AbortController();
  ac.abort(new Error('job aborted by the contract test'));
  return ac.signal;
}

export function pgContract(label: string, makeEnv: () => Promise<PgContractEnv>): void {
  describe(`PgPort contract: ${label}`, () => {
    let env: PgContractEnv;
    let a: PgContractNode; // bootstraps, later fenced and rejoined
    let b: PgContractNode; // cloned from a, later promoted
    let c: PgContractNode; // stays empty
    let systemId = '';
    const observe = (n: PgContractNode): Promise<LocalPg> => env.run(n.pg.observe());
    /** Wait until n's WAL receiver streams from up; a timeout says what n showed last. */
    const streamsFrom = async (n: PgContractNode, up: PgContractNode, timeline?: number): Promise<void> => {
      let last: unknown = null;
      const streaming = async (): Promise<boolean> => {
        const l = await observe(n);
        const r = l.kind === 'running' ? l.walReceiver : null;
        last = l.kind === 'running' ? { receiver: r, timeline: l.timeline, receiveLsn: l.receiveLsn } : l.kind;
        return r !== null && r.status === 'streaming' && r.senderHost === up.ref.host && r.senderPort === up.ref.port
          && (timeline === undefined || r.receivedTimeline === timeline);
      };
      try {
        await env.eventually(`${n.ref.name} streams from ${up.ref.name}`, streaming, { withinMs: 20_000 });
      } catch (err) {
        throw new Error(`${(err as Error).message}; last observed: ${JSON.stringify(last)}`, { cause: err });
      }
    };

    afterAll(async () => { await env?.close(); });

    it('observes an empty data directory as down, without control data', async () => {
      env = await makeEnv();
      [a, b, c] = [await env.node('a'), await env.node('b'), await env.node('c')];
      const l = await observe(c);
      expect(l).toMatchObject({ kind: 'down', dataDir: 'empty', control: null, standbySignal: false });
      expect(await env.run(c.pg.controlData())).toBeNull();
      expect(c.postmaster()).toEqual({ alive: false, mayBeWritable: false });
      expect(c.pg.isFenced()).toBe(false);
    });

    it('refuses to start an empty data directory', async () => {
      await refused(env.run(c.pg.startPrimary()));
      await refused(env.run(c.pg.startReplica(a.ref)));
      expect(c.postmaster().alive).toBe(false);
    });

    it('bootstraps a running, writable primary on timeline 1', async () => {
      systemId = (await env.run(a.pg.bootstrap(env.dynamic))).systemId;
      expect(systemId).toMatch(/^\d+$/);
      const l = running(await observe(a));
      expect(l).toMatchObject({ dataDir: 'initialized', inRecovery: false, timeline: 1, systemIdentifier: systemId, standbySignal: false, walReceiver: null });
      expect(l.currentLsn).toBeGreaterThan(0);
      expect(l.control?.systemIdentifier).toBe(systemId);
      expect(a.postmaster()).toEqual({ alive: true, mayBeWritable: true });
      expect(await env.run(a.pg.currentLsn())).toBeGreaterThanOrEqual(l.currentLsn ?? 0);
      await env.run(a.pg.checkpoint());
    });

    it('refuses to bootstrap or clone over an initialized data directory', async () => {
      await refused(env.run(a.pg.bootstrap(env.dynamic)));
      await refused(env.run(a.pg.clone(a.ref)));
      expect(running(await observe(a)).systemIdentifier).toBe(systemId);
    });

    it('leaves a running primary alone on a second start', async () => {
      const before = running(await observe(a));
      await env.run(a.pg.startPrimary());
      await env.run(a.pg.startReplica(b.ref));
      const after = running(await observe(a));
      expect(after.postmasterStartTime).toBe(before.postmasterStartTime);
      expect(after.inRecovery).toBe(false);
      expect(a.postmaster().mayBeWritable).toBe(true);
    });

    it('clones a replica that streams from its leader', async () => {
      await env.run(b.pg.clone(a.ref));
      const cloned = await observe(b);
      expect(cloned).toMatchObject({ kind: 'down', dataDir: 'initialized', standbySignal: true });
      expect(cloned.control?.systemIdentifier).toBe(systemId);
      // use_slots: the replica streams through the slot the primary keeps for it.
      await env.run(a.pg.syncSlots(['b']));
      await env.run(b.pg.startReplica(a.ref));
      expect(running(await observe(b))).toMatchObject({ inRecovery: true, systemIdentifier: systemId, currentLsn: null });
      expect(b.postmaster()).toEqual({ alive: true, mayBeWritable: false });
      await streamsFrom(b, a, 1);
    });

    it("answers the peer questions of a switchover from the peers' PostgreSQL", async () => {
      expect(await env.run(a.pg.peerInRecovery(b.ref))).toBe(true);
      expect(await env.run(b.pg.peerInRecovery(a.ref))).toBe(false);
      expect(await env.run(a.pg.peerInRecovery(c.ref))).toBeNull();
      expect(await env.run(a.pg.peerReceiveLsn(b.ref))).toBeGreaterThan(0);
      expect(await env.run(b.pg.peerReceiveLsn(a.ref))).toBeNull();
    });

    it('refuses to make a primary follow another node', async () => {
      await refused(env.run(a.pg.follow(b.ref)));
      expect(running(await observe(a)).inRecovery).toBe(false);
    });

    it('stops a replica cleanly (shut down in recovery), once', async () => {
      expect(await env.run(b.pg.stop('fast', STOP_MS))).toBe('stopped');
      const l = await observe(b);
      expect(l).toMatchObject({ kind: 'down', standbySignal: true });
      expect(l.control?.state).toBe('shut down in recovery');
      expect(b.postmaster().alive).toBe(false);
      expect(await env.run(b.pg.stop('fast', STOP_MS))).toBe('already-stopped');
    });

    it('runs no command whose job was aborted already', async () => {
      await expect(env.run(b.pg.startReplica(a.ref, aborted()))).rejects.toThrow();
      expect(b.postmaster().alive).toBe(false);
      await expect(env.run(a.pg.stop('fast', STOP_MS, aborted()))).rejects.toThrow();
      expect(a.postmaster().alive).toBe(true);
      await env.run(b.pg.startReplica(a.ref));
      expect(running(await observe(b)).inRecovery).toBe(true);
    });

    it("stops a primary cleanly ('shut down') and starts it again as the same primary", async () => {
      const lsn = running(await observe(a)).currentLsn ?? 0;
      expect(await env.run(a.pg.stop('fast', STOP_MS))).toBe('stopped');
      const l = await observe(a);
      expect(l).toMatchObject({ kind: 'down', dataDir: 'initialized', standbySignal: false });
      expect(l.control).toMatchObject({ state: 'shut down', systemIdentifier: systemId, timeline: 1 });
      expect(l.control?.checkpointLsn).toBeGreaterThanOrEqual(lsn);
      expect((await env.run(a.pg.controlData()))?.state).toBe('shut down');
      expect(a.postmaster()).toEqual({ alive: false, mayBeWritable: false });
      await env.run(a.pg.startPrimary());
      expect(running(await observe(a))).toMatchObject({ inRecovery: false, timeline: 1, systemIdentifier: systemId });
      expect(a.postmaster().mayBeWritable).toBe(true);
      await streamsFrom(b, a);
    });

    it('promotes a replica to the next timeline; a second promote returns that timeline', async () => {
      expect(await env.run(b.pg.promote(30_000))).toBe(2);
      expect(running(await observe(b))).toMatchObject({ inRecovery: false, timeline: 2 });
      expect(b.postmaster()).toEqual({ alive: true, mayBeWritable: true });
      expect(await env.run(b.pg.promote(30_000))).toBe(2);
      await env.run(b.pg.syncSlots(['a']));
    });

    it('fences a running primary: stopped, sticky, and no start until the fence is cleared', async () => {
      await env.run(a.pg.fence('contract: lease lost'));
      expect(a.postmaster().alive).toBe(false);
      expect(a.pg.isFenced()).toBe(true);
      const l = await observe(a);
      expect(l.kind).toBe('down');
      expect(l.control?.state).toBe('in production'); // no shutdown checkpoint
      await refused(env.run(a.pg.startPrimary()));
      await refused(env.run(a.pg.startReplica(b.ref)));
      expect(a.postmaster().alive).toBe(false);
      expect(a.pg.isFenced()).toBe(true);
      a.pg.clearFence();
      expect(a.pg.isFenced()).toBe(false);
      await env.run(a.pg.startPrimary());
      expect(running(await observe(a)).inRecovery).toBe(false);
    });

    it('fences a stopped node without effect but keeps the fence', async () => {
      await env.run(c.pg.fence('contract: nothing runs'));
      expect(c.pg.isFenced()).toBe(true);
      expect(c.postmaster().alive).toBe(false);
      c.pg.clearFence();
      expect(c.pg.isFenced()).toBe(false);
    });

    it('rejoins a diverged old primary under the new leader (pg_rewind)', async () => {
      expect(await env.run(a.pg.rejoin(b.ref))).toEqual({ rewound: true });
      expect(running(await observe(a))).toMatchObject({ inRecovery: true, systemIdentifier: systemId });
      expect(a.postmaster()).toEqual({ alive: true, mayBeWritable: false });
      await streamsFrom(a, b, 2);
    });

    it('promotes past the timeline history files written before a catch-up promotion', async () => {
      // Timelines 3 and 4 branched off (on other, lost members) past where a's WAL ends, as the
      // history key would tell a catch-up; their files carry the real history of timeline 2.
      const own = await b.historyFile(2);
      expect(own).not.toBeNull();
      const beyond = (running(await observe(a)).receiveLsn ?? 0) + 64 * 1024 * 1024;
      const tl3 = `${own ?? ''}2\t${formatLsn(beyond)}\tcontract catch-up\n`;
      const tl4 = `${tl3}3\t${formatLsn(beyond + 4096)}\tcontract catch-up\n`;
      await env.run(a.pg.writeTimelineFiles([{ timeline: 3, content: tl3 }, { timeline: 4, content: tl4 }]));
      expect(await env.run(a.pg.promote(30_000))).toBe(5);
      expect(running(await observe(a))).toMatchObject({ inRecovery: false, timeline: 5 });
    });

    it('moves a stopped data directory aside and leaves an empty one', async () => {
      await env.run(a.pg.stop('immediate', STOP_MS));
      const moved = await env.run(a.pg.moveDataAside('contract: reinit'));
      expect(moved).toMatch(/\S/);
      expect(await observe(a)).toMatchObject({ kind: 'down', dataDir: 'empty', control: null });
      expect(a.postmaster().alive).toBe(false);
    });
  });
}
