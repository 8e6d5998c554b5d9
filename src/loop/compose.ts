// The agent's parts, built and wired in one place: etcd, PostgreSQL, the fence (timer, guard,
// Fencing), the job runner, the loop. Nothing here decides; the daemon starts and stops them.
import type { Logger } from 'pino';
import type { Config, DynamicConfig } from '../config/types.js';
import { packageVersion } from '../config/version.js';
import { createEtcdDcs, type EtcdDcs } from '../dcs/etcd-dcs.js';
import { createExecaRunner } from '../exec/runner.js';
import { createFenceTimer } from '../fence/fence-timer.js';
import { Fencing } from '../fence/fencing.js';
import { FenceCount } from '../fence/fence-count.js';
import { readHandover, startFenceGuard, type FenceGuard } from '../fence/fence-guard-client.js';
import { componentLogger } from '../obs/logger.js';
import { startingSnapshot, type StatusSnapshot } from '../obs/status.js';
import { createCallbackExecutor } from '../postgres/callbacks.js';
import { fileOwner, writePgpass } from '../postgres/managed-files.js';
import { createPgAdapter } from '../postgres/pg-adapter.js';
import { withCallbacks } from '../postgres/pg-callbacks.js';
import { asError } from '../errors.js';
import { AgentLoop } from './agent-loop.js';
import { systemClock } from '../time/clock.js';
import { createJobRunner, startsAs, type JobRunner } from './jobs.js';
import { createPeerHttp, type PeerHttp } from './peer-http.js';
import type { PgPort } from './pg-port.js';
import { RequestQueue } from './request-queue.js';
import { Scheduler } from './scheduler.js';
import { ViewStore } from './view-store.js';
import { REATTACH_EARLY_BOUND_MS } from './way-out.js';

export interface AgentParts {
  /** The config in force (SIGHUP and POST /reload replace it). */
  readonly config: () => Config;
  readonly setConfig: (next: Config) => void;
  readonly dynamic: () => DynamicConfig;
  readonly root: Logger;
  readonly agentVersion: string;
  readonly clock: typeof systemClock;
  readonly dcs: EtcdDcs;
  /** The bare adapter: the fence paths and the way out use it, so no user callback is in their way. */
  readonly pg: PgPort;
  readonly jobs: JobRunner;
  readonly loop: AgentLoop;
  readonly fencing: Fencing;
  readonly guard: FenceGuard;
  readonly peerHttp: PeerHttp;
  /** Operator requests (restart, reinitialize) on their way from the API to decide(). */
  readonly requests: RequestQueue;
  readonly status: () => StatusSnapshot;
  /** The early re-attach of a restarted leader's key (resolves, never rejects). */
  readonly early: Promise<void>;
}

export async function composeAgent(opts: { readonly config: Config; readonly logger: Logger }): Promise<AgentParts> {
  let config = opts.config;
  const root = opts.logger;
  const clock = systemClock;
  const agentVersion = `pg-ha-agent/${packageVersion()}`;
  const boot = config.bootstrap.dcs;
  // Before our own guard starts (it rewrites the record): what the previous run on this data dir
  // left, so that only the lease it proved the leader key under may be re-attached.
  const handover = readHandover(config.postgresql.data_dir);
  const dcs = createEtcdDcs({ config, ttlSec: boot.ttl, retryTimeoutSec: boot.retry_timeout, clock, logger: root, reattachableLease: handover.leaseId });
  const runner = createExecaRunner({ logger: componentLogger(root, 'runner') });
  const loopLog = componentLogger(root, 'loop');
  // Built before the loop and handed to it, so nothing needs to call back into the loop: the last
  // cluster view (the dynamic config's readers), the scheduler (whoever has news wakes it), the
  // fence count (every fencer adds to it).
  const views = new ViewStore(loopLog, handover.paused);
  const scheduler = new Scheduler({ clock, logger: loopLog });
  const wake = (): void => scheduler.wake();
  const fences = new FenceCount();
  const dynamic = (): DynamicConfig => views.dynamic(config);
  const pg = createPgAdapter({ config, logger: componentLogger(root, 'postgres'), runner, clock, dynamic });
  // A pgpass an older version left (wildcard lines) is rewritten to its scoped form now, not at the
  // next start, follow or config change of PostgreSQL (docs/postgres.md).
  await fileOwner(config).then((owner) => writePgpass(config, owner))
    .catch((err: unknown) => componentLogger(root, 'daemon').warn({ err: asError(err) }, 'could not rewrite the pgpass file'));
  const peerHttp = createPeerHttp(() => config.restapi);
  // Callbacks see what the loop and the jobs do to PostgreSQL; the fence paths and the way out use
  // the bare adapter, so no user command is ever in their way.
  const callbacks = createCallbackExecutor({
    commands: () => config.postgresql.callbacks, scope: () => config.scope, runner, logger: componentLogger(root, 'callbacks'),
  });
  const pgCb = withCallbacks(pg, callbacks);
  const jobs = createJobRunner({ selfName: config.name, pg: pgCb, dcs, clock, logger: componentLogger(root, 'jobs'), dynamicConfig: dynamic, peerHttp, onFinished: wake });
  const { fencing, guard, early } = startFence({ config, root, dcs, pg, views, jobs, wake, dynamic, handover, fences });
  let status: StatusSnapshot = startingSnapshot({ name: config.name, scope: config.scope, agentVersion, dynamic: boot, tags: config.tags, nowMonoMs: clock.monoMs() });
  const requests = new RequestQueue(wake);
  const loop = new AgentLoop({
    config: () => config, dcs, pg: pgCb, jobs, clock, logger: loopLog, agentVersion, fencing, peerHttp, requests, fences, views, scheduler,
    publish: (snap) => { status = snap; },
  });
  return {
    config: () => config, setConfig: (next) => { config = next; }, dynamic, root, agentVersion, clock,
    dcs, pg, jobs, loop, fencing, guard, peerHttp, requests, status: () => status, early,
  };
}

/** The fence timer, the guard process and Fencing, armed at once; a restarted leader re-attaches its key early. */
function startFence(args: {
  config: Config; root: Logger; dcs: EtcdDcs; pg: PgPort; views: ViewStore; jobs: JobRunner; wake: () => void;
  dynamic: () => DynamicConfig; handover: ReturnType<typeof readHandover>; fences: FenceCount;
}): { fencing: Fencing; guard: FenceGuard; early: Promise<void> } {
  const { config, dcs, pg, handover } = args;
  const clock = systemClock;
  const fenceLog = componentLogger(args.root, 'fence');
  const fence = (reason: string): void => {
    args.fences.add();
    void pg.fence(reason).catch((err: unknown) => fenceLog.error({ err: asError(err) }, 'fence failed'));
  };
  const fenceTimer = createFenceTimer({ clock, logger: fenceLog, fence });
  const guard = startFenceGuard({ dataDir: config.postgresql.data_dir, logger: fenceLog, handover });
  const fencing = new Fencing({
    dcs, clock, logger: fenceLog, dataDir: config.postgresql.data_dir, paused: () => args.dynamic().pause, etcdRead: () => args.views.readState(), fenceTimer, guard,
    startingWritable: () => startsAs(args.jobs.running()?.spec ?? null) === 'primary',
    fence,
    wake: args.wake,
  });
  // A restarted agent whose previous run left a writable primary: its handed-over deadline is
  // enforced here too, not only by the guard, until the key is re-attached.
  fencing.apply();
  // Restart in place of a leader: prove the key at once, while the rest starts (the first tick's
  // observation can take seconds on a busy host), so the handed-over deadline is replaced early.
  const log = componentLogger(args.root, 'daemon');
  const early = fencing.handedOverDeadline() !== null && handover.leaseId !== null ? reattachEarly({ dcs, fencing, log }) : Promise.resolve();
  return { fencing, guard, early };
}

/**
 * The key under the lease our previous run handed over, moved onto ours now (renewLeader only
 * re-attaches from that lease). The loop decides everything else on its first tick; if this fails,
 * that tick tries again, and the guard keeps the handed-over deadline meanwhile.
 */
async function reattachEarly(args: { dcs: EtcdDcs; fencing: Fencing; log: Logger }): Promise<void> {
  const t0 = performance.now();
  const ok = await Promise.race([
    args.dcs.renewLeader(AbortSignal.timeout(REATTACH_EARLY_BOUND_MS)).catch((err: unknown) => {
      args.log.info({ err: asError(err) }, 'restart in place: early re-attach did not succeed; the first tick decides');
      return false;
    }),
    new Promise<boolean>((r) => setTimeout(() => r(false), REATTACH_EARLY_BOUND_MS).unref()),
  ]);
  if (ok) args.fencing.apply();
  args.log.info({ reattached: ok, durationMs: Math.round(performance.now() - t0) }, 'restart in place: leader key checked before the first tick');
}
