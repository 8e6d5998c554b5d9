// tick() on its own: the fake etcd (test/support/fakes), a FakeClock, a stub PostgreSQL, a stub
// job runner and an injected executor, with decide() replaced by a spy that records its input.
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { Config } from '../../../src/config/types.js';
import type { Action, DecideInput, Decision, FinishedJob, JobSpec, RunningJob } from '../../../src/core/decide-types.js';
import type { LocalPg } from '../../../src/core/local-pg.js';
import { probeReason } from '../../../src/core/probe-policy.js';
import type { OperatorRequest, RequestAnswer } from '../../../src/core/requests.js';
import type { ExecutionResult, ExecutorPort } from '../../../src/loop/executor.js';
import type { JobRunner } from '../../../src/loop/jobs.js';
import type { PgPort } from '../../../src/loop/pg-port.js';
import { initialTickState, tick, type TickPorts } from '../../../src/loop/tick.js';
import { ViewStore } from '../../../src/loop/view-store.js';
import type { StatusSnapshot } from '../../../src/obs/status.js';
import { FakeClock } from '../../support/fakes/fake-clock.js';
import { createFakeDcs, type FakeDcs } from '../../support/fakes/fake-dcs.js';
import { FakeEtcdStore } from '../../support/fakes/fake-store.js';
import { memberStatus } from '../../support/member-status.js';
import { testConfig } from '../api/fixtures.js';
import { localPg } from '../core/builders.js';

const silent = pino({ enabled: false });
const SCOPE = 'demo';

/** PostgreSQL as a list of observations (the last one repeats); `onObserve` runs at each call. */
function stubPg(observations: LocalPg[], onObserve: (call: number) => void = () => undefined): PgPort & { calls: number } {
  const pg = {
    calls: 0,
    observe: (): Promise<LocalPg> => {
      pg.calls++;
      onObserve(pg.calls);
      return Promise.resolve(observations[Math.min(pg.calls, observations.length) - 1] as LocalPg);
    },
    isFenced: () => false,
  };
  // Anything else the tick must not touch: the injected executor does the acting.
  return new Proxy(pg, { get: (t, p) => (p in t ? Reflect.get(t, p) : () => { throw new Error(`stub PgPort: ${String(p)} not expected`); }) }) as unknown as PgPort & { calls: number };
}

function stubJobs(running: () => RunningJob | null = () => null, finished: FinishedJob | null = null): JobRunner {
  let left = finished;
  return {
    running,
    start: () => Promise.reject(new Error('stub job runner: start not expected')),
    takeFinished: () => { const f = left; left = null; return f; },
    abort: () => Promise.resolve(),
    stop: () => Promise.resolve(),
  };
}

/** Records what it was asked to run; its result is the test's. */
function stubExecutor(result: Partial<ExecutionResult> = {}): ExecutorPort & { runs: { actions: readonly Action[]; local: LocalPg }[] } {
  const runs: { actions: readonly Action[]; local: LocalPg }[] = [];
  return {
    runs,
    run: (actions, local) => {
      runs.push({ actions, local });
      return Promise.resolve({ retickNow: false, retickSoon: false, halt: null, failures: [], undone: [], started: new Map(), ...result });
    },
  };
}

interface World {
  readonly clock: FakeClock;
  readonly store: FakeEtcdStore;
  readonly dcs: FakeDcs;
  readonly config: Config;
  readonly inputs: DecideInput[];
  /** Why decide() asked for the peers (a probePeers decision), per ask. */
  readonly asked: string[];
  readonly published: StatusSnapshot[];
  readonly probed: string[];
}

function world(): World {
  const clock = new FakeClock();
  const store = new FakeEtcdStore(clock);
  const dcs = createFakeDcs({ scope: SCOPE, name: 'a', ttlSec: 30, clock, store });
  return { clock, store, dcs, config: testConfig('a'), inputs: [], asked: [], published: [], probed: [] };
}

/** Another agent's member key (and the leader key when `leader`). */
async function otherAgent(w: World, name: string, leader = false): Promise<void> {
  const dcs = createFakeDcs({ scope: SCOPE, name, ttlSec: 30, clock: w.clock, store: w.store });
  await dcs.touchMember(memberStatus(name, { apiUrl: `http://${name}.test:8008/patroni` }));
  if (leader) expect(await dcs.acquireLeader()).toBe(true);
}

function ports(w: World, over: Partial<TickPorts> & { decision?: Partial<Decision> } = {}): TickPorts {
  const { decision, ...rest } = over;
  return {
    config: () => w.config, agentVersion: 'pg-ha-agent/test', dcs: w.dcs, clock: w.clock, logger: silent,
    pg: stubPg([localPg.replica()]), jobs: stubJobs(),
    fencing: { apply: () => undefined, checkNow: () => false, settled: () => Promise.resolve() },
    peerHttp: {
      getJson: (url) => {
        w.probed.push(url);
        // A probe takes time: decide() must know when the probes started, not when they ended.
        w.clock.advance(300);
        return Promise.resolve({ state: 'running', role: 'replica', xlog: { received_location: 4_000, replayed_location: 4_000 } });
      },
    },
    publish: (snap) => { w.published.push(snap); },
    decide: (input) => {
      // As decide() does: on a tick whose decision reads the peers, it first asks for them.
      const why = input.peersProbed === false ? probeReason({ cluster: input.cluster, local: input.local, self: input.self.name, primaryStartTimeoutSec: input.config.primary_start_timeout }) : null;
      if (why !== null) {
        w.asked.push(why);
        return { actions: [{ kind: 'probePeers', why }], reason: 'asking', memory: input.memory };
      }
      w.inputs.push(input);
      return { actions: [], reason: 'nothing to do', memory: input.memory, ...decision };
    },
    executor: stubExecutor(),
    views: new ViewStore(silent),
    fenceEvents: () => 0,
    ...rest,
  };
}

describe('tick()', () => {
  it('probes the other agents when there is no leader and passes when the probes started', async () => {
    const w = world();
    await otherAgent(w, 'b');
    await otherAgent(w, 'c');
    const pg = stubPg([localPg.replica({ receiveLsn: 4_500 }), localPg.replica({ receiveLsn: 4_900 })], () => w.clock.advance(100));
    const t0 = w.clock.monoMs();
    const { outcome } = await tick(ports(w, { pg }), initialTickState()).then(ok);
    expect(outcome).toEqual({ halt: null, retickNow: false, retickSoon: false });
    expect(w.asked).toEqual(['leader race']);
    expect(w.probed.sort()).toEqual(['http://b.test:8008/patroni', 'http://c.test:8008/patroni']);
    const input = only(w.inputs);
    expect(input.peersProbed).toBe(true);
    expect([...input.peers.keys()].sort()).toEqual(['b', 'c']);
    expect(input.peersProbedAtMs).toBe(t0 + 100);
    expect(input.nowMs).toBeGreaterThan(t0 + 100 + 600);
    // A streaming replica's own position is read again after its peers' (S2 d).
    expect(pg.calls).toBe(2);
    expect(input.local).toMatchObject({ receiveLsn: 4_900 });
  });

  it('a key deleted behind the lease keeper\'s back (no watch event): one read of the key ends leadership (seed 222 of set 6)', async () => {
    const w = world();
    await w.dcs.touchMember(memberStatus('a'));
    expect(await w.dcs.acquireLeader()).toBe(true);
    const causes: string[] = [];
    w.dcs.onLeadershipLost((cause) => causes.push(cause));
    w.store.txn([], [{ op: 'delete', key: `/service/${SCOPE}/leader` }], []);
    expect(w.dcs.leadership()).not.toBeNull();
    await tick(ports(w, { pg: stubPg([localPg.primary()]) }), initialTickState()).then(ok);
    expect(w.dcs.leadership()).toBeNull();
    expect(causes).toEqual(['leader key deleted']);
    expect(only(w.inputs).cluster?.leader).toBeNull();
  });

  it('does not probe while a leader holds the key, and observes PostgreSQL once', async () => {
    const w = world();
    await otherAgent(w, 'b', true);
    const pg = stubPg([localPg.replica({ leader: 'b' })]);
    await tick(ports(w, { pg }), initialTickState()).then(ok);
    expect(w.asked).toEqual([]);
    expect(w.probed).toEqual([]);
    const input = only(w.inputs);
    expect(input.peersProbed).toBe(false);
    expect(input.peers.size).toBe(0);
    expect(input.peersProbedAtMs).toBeUndefined();
    expect(input.cluster?.leader?.name).toBe('b');
    expect(pg.calls).toBe(1);
  });

  it('observes PostgreSQL again when the job that ran at the first observation ended during the tick', async () => {
    const w = world();
    await otherAgent(w, 'b', true);
    let job: RunningJob | null = { spec: { kind: 'startReplica', leader: null }, startedMs: 0 };
    const pg = stubPg([localPg.down(), localPg.replica({ leader: 'b' })], (call) => { if (call === 1) job = null; });
    await tick(ports(w, { pg, jobs: stubJobs(() => job) }), initialTickState()).then(ok);
    expect(pg.calls).toBe(2);
    const input = only(w.inputs);
    expect(input.local.kind).toBe('running');
    expect(input.job).toBeNull();
  });

  it('hands the decision\'s actions to the injected executor and keeps what the tick learned', async () => {
    const w = world();
    await otherAgent(w, 'b', true);
    const actions: Action[] = [{ kind: 'follow', leader: { name: 'b', host: 'b.test', port: 5432, apiUrl: 'http://b.test:8008/patroni' } }];
    const executor = stubExecutor({ undone: ['follow'], retickSoon: true });
    const memory = { ...initialTickState().memory, switchoverAbort: null };
    const { state, outcome } = await tick(ports(w, { executor, decision: { actions, reason: 'following b', memory } }), initialTickState()).then(ok);
    expect(executor.runs).toEqual([{ actions, local: localPg.replica() }]);
    expect(outcome.retickSoon).toBe(true);
    expect(state).toMatchObject({ undone: ['follow'], lastReason: 'following b', joined: true, memory });
    expect(state.counters.ticksTotal).toBe(1);
    expect(only(w.published).lastDecision).toMatchObject({ reason: 'following b', actions: ['follow'] });
    expect((await w.dcs.snapshot()).members.map((m) => m.name).sort()).toEqual(['a', 'b']);
  });

  it('answers operator requests with the jobs the executor started', async () => {
    const w = world();
    const job: JobSpec = { kind: 'restart', role: 'replica', leader: null };
    const done = new Promise<FinishedJob>(() => undefined);
    const settled: { answers: readonly RequestAnswer[]; started: ReadonlyMap<JobSpec, Promise<FinishedJob>> }[] = [];
    const request: OperatorRequest = { id: 7, kind: 'reinit', force: false };
    const requests = { take: () => [request], settle: (answers: readonly RequestAnswer[], started: ReadonlyMap<JobSpec, Promise<FinishedJob>>) => { settled.push({ answers, started }); } };
    const answers: RequestAnswer[] = [{ id: 7, kind: 'started', job }];
    const executor = stubExecutor({ started: new Map([[job, done]]) });
    await tick(ports(w, { requests, executor, decision: { actions: [{ kind: 'startJob', job }], answers } }), initialTickState()).then(ok);
    expect(only(w.inputs).requests).toEqual([request]);
    expect(settled).toEqual([{ answers, started: new Map([[job, done]]) }]);
  });

  it('a tick that fails after deciding keeps the decision\'s memory and still settles the requests', async () => {
    const w = world();
    let settledWith: readonly RequestAnswer[] | null = null;
    const requests = { take: () => [{ id: 1, kind: 'reinit', force: false } as const], settle: (a: readonly RequestAnswer[]) => { settledWith = a; } };
    const memory = { ...initialTickState().memory, switchoverAbort: null, lastJob: null };
    const boom: ExecutorPort = { run: () => Promise.reject(new Error('executor exploded')) };
    const answers: RequestAnswer[] = [{ id: 1, kind: 'refused', reason: 'busy' }];
    const result = await tick(ports(w, { requests, executor: boom, decision: { memory, answers } }), initialTickState());
    expect('failed' in result && (result.failed as Error).message).toBe('executor exploded');
    expect(result.state.memory).toBe(memory);
    expect(result.state.joined).toBe(false);
    expect(settledWith).toEqual(answers);
  });

  it('logs strangers once per lease, and only once this run is a live member', async () => {
    const w = world();
    const patroni = createFakeDcs({ scope: SCOPE, name: 'p', ttlSec: 30, clock: w.clock, store: w.store });
    const { agent: _agent, ...status } = memberStatus('p');
    await patroni.touchMember(status);
    const warned: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => { warned.push((JSON.parse(line) as { member: string }).member); } });
    const p = ports(w, { logger });
    const first = await tick(p, initialTickState()).then(ok);
    expect(warned).toEqual([]);
    const second = await tick(p, first.state).then(ok);
    await tick(p, second.state).then(ok);
    expect(warned).toEqual(['p']);
  });
});

function ok<T extends { state: unknown }>(r: T): Extract<T, { outcome: unknown }> {
  if (!('outcome' in r)) throw (r as unknown as { failed: unknown }).failed;
  return r as Extract<T, { outcome: unknown }>;
}

function only<T>(list: readonly T[]): T {
  expect(list).toHaveLength(1);
  return list[0] as T;
}
