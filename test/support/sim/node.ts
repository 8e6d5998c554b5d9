// One simulated agent process, wired as src/daemon.ts wires the real one: the real AgentLoop (tick,
// executor, job runner, promotion and switchover jobs), the real Fencing with the real fence timer,
// the real lease keeping (lease-dcs.ts over the fake etcd store), the daemon's watch handling. Only
// the adapters are simulated: PgPort (sim-pg.ts), the etcd connection (sim-etcd.ts), GET /patroni
// (rest.ts), timers (vtime.ts) and the fence guard process around the real guard logic (guard.ts,
// an owner that a SIGSTOP of the agent does not stop), spawned by the real guard client.
import { pino } from 'pino';
import type { Config } from '../../../src/config/types.js';
import type { HistoryEntry } from '../../../src/core/cluster.js';
import type { Decision } from '../../../src/core/decide-types.js';
import { followChanges } from '../../../src/loop/watch-hints.js';
import { createLeaseDcs } from '../../../src/dcs/lease-dcs.js';
import type { Dcs } from '../../../src/dcs/port.js';
import { AgentLoop } from '../../../src/loop/agent-loop.js';
import { ViewStore } from '../../../src/loop/view-store.js';
import { createFenceTimer } from '../../../src/fence/fence-timer.js';
import { handoverFrom, startFenceGuard } from '../../../src/fence/fence-guard-client.js';
import { FenceCount } from '../../../src/fence/fence-count.js';
import { Fencing } from '../../../src/fence/fencing.js';
import { createJobRunner, startsAs, type JobRunner } from '../../../src/loop/jobs.js';
import type { PgPort } from '../../../src/loop/pg-port.js';
import { startingSnapshot, type StatusSnapshot } from '../../../src/obs/status.js';
import { guardSpawner, isLiveGuard } from './guard.js';
import { AGENT, SCOPE, TTL_SEC, log, type AgentRuntime, type SimNode, type WorldState } from './model.js';
import { simPeerHttp } from './rest.js';
import { SimBackend } from './sim-etcd.js';
import { SimPg } from './sim-pg.js';
import { runToExit, type RunParts, type Termination } from './way-out.js';

const quiet = pino({ enabled: false });

function simConfig(w: WorldState, n: SimNode): Config {
  return {
    scope: SCOPE, namespace: '/service/', name: n.name, log: { level: 'info' },
    restapi: { listen: { host: n.host, port: 8008 }, connect_address: { host: n.host, port: 8008 }, allowlist: [] },
    etcd3: { hosts: [{ host: 'etcd.sim', port: 2379 }], protocol: 'http' },
    bootstrap: { dcs: w.bootstrapDcs, initdb: [], pg_hba: [] },
    postgresql: {
      listen: { addresses: n.host, port: 5432 }, connect_address: { host: n.host, port: 5432 },
      data_dir: `/sim/${n.name}/data`, config_dir: `/sim/${n.name}/data`, bin_dir: '/sim/bin', pgpass: '/sim/pgpass',
      authentication: { superuser: { username: 'postgres' }, replication: { username: 'replicator' } },
      parameters: {}, pg_hba: [], callbacks: {}, use_pg_rewind: true, remove_data_directory_on_rewind_failure: false,
      create_replica_methods: ['basebackup'], basebackup: [],
    },
    tags: n.tags,
    watchdog: { mode: 'off', device: '/dev/watchdog', safety_margin: 5 },
    configFile: `/sim/${n.name}/config.yml`,
  };
}

/**
 * The broken promotion order for the sim-checks (pg_promote, then the history entry), over the real
 * promotion job: its history append is held back and written after pg_promote returned, when etcd
 * can still be reached, and the jobs read no key again (the old executor's order: nothing checked
 * the key before pg_promote or before a writable start).
 */
function promoteFirst(dcs: Dcs, pg: SimPg): { dcs: Dcs; pg: PgPort } {
  let held: HistoryEntry | null = null;
  const jobDcs = new Proxy(dcs, {
    get: (t, prop) => {
      if (prop === 'appendHistory') return (e: HistoryEntry) => { held = e; return Promise.resolve(); };
      // The old executor did not read the key again before pg_promote either.
      if (prop === 'checkLeadership') return () => Promise.resolve(true);
      return bind(t, prop);
    },
  });
  const jobPg = new Proxy(pg, {
    get: (t, prop) => (prop !== 'promote' ? bind(t, prop) : async (timeoutMs: number) => {
      const tl = await t.promote(timeoutMs);
      const entry = held;
      held = null;
      if (entry) await dcs.appendHistory(entry).catch(() => undefined);
      return tl;
    }),
  });
  return { dcs: jobDcs, pg: jobPg };
}

function bind<T extends object>(t: T, prop: string | symbol): unknown {
  const v: unknown = Reflect.get(t, prop);
  return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
}

/** Start an agent process on node n (at boot, or after a crash: empty memory, a new lease). */
export function startAgent(w: WorldState, n: SimNode): AgentRuntime {
  const owner = w.vt.owner(n.name);
  const timers = owner.timers();
  const clock = w.vt.clock;
  const config = simConfig(w, n);
  const silent = process.env['SIM_LOG_NODE'] === n.name
    ? pino({ level: 'debug', timestamp: false, base: null }, { write: (line: string) => log(w, `${n.name} LOG ${line.trim()}`) })
    : quiet;
  const backend = new SimBackend(w, n, owner, w.store.backendFor(n.name));
  const dcs = createLeaseDcs({ backend, namespace: '/service/', scope: SCOPE, name: n.name, ttlSec: TTL_SEC, clock, logger: silent });
  const pg = new SimPg(w, n, owner);
  const stop = new AbortController();
  let loop: AgentLoop | null = null;
  // As compose.ts: the hand-over is read before our guard starts, and its pause holds until etcd is read.
  const handover = handoverFrom(n.guardFile, (pid) => isLiveGuard(n, pid));
  const views = new ViewStore(silent, handover.paused);
  const dynamic = () => views.dynamic(config);
  const fences = new FenceCount();
  const fenceNow = (reason: string): void => {
    fences.add();
    void pg.fence(reason);
  };
  const fenceTimer = createFenceTimer({ clock, logger: silent, fence: fenceNow, timers });
  // The real guard client, as compose.ts starts it: the hand-over first, then our guard.
  const spawner = guardSpawner(w, n);
  const guard = startFenceGuard({ dataDir: config.postgresql.data_dir, logger: silent, handover, spawn: spawner.spawn, timers });
  // Bound once the job runner exists; Fencing reads it when it arms (as in src/daemon.ts).
  let jobsRef: JobRunner | null = null;
  const fencing = new Fencing({
    dcs, clock, logger: silent, dataDir: config.postgresql.data_dir, paused: () => dynamic().pause, etcdRead: () => views.readState(),
    fenceTimer, guard, fence: fenceNow, wake: () => loop?.wake(), timers, postmaster: () => pg.postmasterState(),
    // As src/daemon.ts: a job that starts PostgreSQL writable is fenced by the lease while it runs.
    startingWritable: () => startsAs(jobsRef?.running()?.spec ?? null) === 'primary',
  });
  fencing.apply();
  const peerHttp = simPeerHttp(w, n.name);
  const forJobs = w.historyFirst ? { pg, dcs } : promoteFirst(dcs, pg);
  const jobs = createJobRunner({ selfName: n.name, ...forJobs, clock, logger: silent, dynamicConfig: dynamic, peerHttp, timers,
    onFinished: (job) => {
      if (job.spec.kind === 'switchover' && job.ok) w.stats.switchovers++;
      log(w, `${n.name} job ${job.spec.kind} ${job.ok ? 'done' : `failed: ${job.error ?? ''}`}`);
      loop?.wake();
    },
  });
  jobsRef = jobs;
  let termination: Termination | null = null;
  const agent: AgentRuntime = {
    // As compose.ts: the API serves the starting snapshot until the first tick publishes.
    owner, fenced: false, status: startingSnapshot({ name: n.name, scope: SCOPE, agentVersion: AGENT, dynamic: dynamic(), tags: config.tags, nowMonoMs: clock.monoMs() }),
    lastReason: '', haltReason: null,
    lease: () => dcs.lease(),
    etcdRead: () => views.readState(),
    startingAs: () => startsAs(jobs.running()?.spec ?? null),
    dynamic,
    wake: () => loop?.wake(),
    terminate: (kind) => {
      // As the daemon's Termination: a stop wins over a restart in place still under way.
      if (termination === 'term' || termination === kind) return;
      termination = kind;
      stop.abort();
    },
    stop: () => {
      stop.abort();
      owner.kill();
      spawner.agentDied();
      void backend.close();
    },
  };
  loop = new AgentLoop({
    config: () => config, dcs, pg, jobs, clock, logger: silent, agentVersion: AGENT, fencing, peerHttp, timers, fences, views, decide: (input) => noteHalt(agent, w.decide(input)),
    publish: (snap) => publish(w, n, agent, snap),
  });
  // The daemon's watch handling, the same function: an own leader key touched is checked at once.
  const running = loop;
  void followChanges({ dcs, wake: () => running.wake(), onEnd: () => undefined }, stop.signal);
  const parts: RunParts = { owner, timers, logger: silent, loop, dcs, pg, jobs, fencing, guard, signal: stop.signal, termination: () => termination };
  // The loop starts on the agent's own time (a frozen or crashed agent runs nothing).
  owner.after(0, () => { void runToExit(w, n, agent, parts); });
  return agent;
}

/** The status snapshot a tick publishes (what GET /patroni serves); a changed reason goes to the trace. */
function publish(w: WorldState, n: SimNode, agent: AgentRuntime, snap: StatusSnapshot): void {
  agent.status = snap;
  // Having read etcd, it has decided on the PostgreSQL a run killed in pause left behind.
  if (n.agent === agent && agent.etcdRead() === 'read') n.killedInPause = false;
  w.stats.ticks++;
  const reason = snap.lastDecision?.reason ?? '';
  if (reason !== agent.lastReason || (process.env["SIM_TRACE_EVERY"] !== undefined && (snap.lastDecision?.actions.length ?? 0) > 0)) log(w, `${n.name} [${snap.lastDecision?.actions.join(',') ?? ''}] ${reason}`);
  agent.lastReason = reason;
}

/** Keeps a halting decision's reason, which the halted tick does not publish. */
function noteHalt(agent: AgentRuntime, d: Decision): Decision {
  if (d.actions.some((a) => a.kind === 'halt')) agent.haltReason = d.reason;
  return d;
}
