// Composition root: the only place that starts things and handles signals.
import type { Logger } from 'pino';
import { createCallbackExecutor } from './postgres/callbacks.js';
import { createPgAdapter } from './postgres/pg-adapter.js';
import { withCallbacks } from './postgres/pg-callbacks.js';
import { createLocalActions } from './loop/local-actions.js';
import { createWalNow } from './postgres/wal-now.js';
import { postmasterAlive, watchPostmaster } from './postgres/postmaster-watch.js';
import { openApiWarning } from './api/access.js';
import { buildServer } from './api/server.js';
import { reloadTls } from './api/tls.js';
import { loadConfig } from './config/load.js';
import { packageVersion } from './config/version.js';
import type { Config } from './config/types.js';
import { createEtcdDcs } from './dcs/etcd-dcs.js';
import type { DcsChangeHint } from './dcs/port.js';
import { createExecaRunner } from './exec/runner.js';
import { AgentLoop } from './loop/agent-loop.js';
import { systemClock } from './loop/clock.js';
import { effectiveDynamicConfig } from './loop/dynamic-config.js';
import { createFenceTimer } from './fence/fence-timer.js';
import { Fencing } from './fence/fencing.js';
import { postmasterWriteState } from './postgres/files.js';
import { fenceNow } from './postgres/pgctl.js';
import { fileOwner, writePgpass } from './postgres/managed-files.js';
import { readHandover, startFenceGuard } from './fence/fence-guard-client.js';
import {
  afterAbort, bounded, CLOSE_BOUND_MS, HANDOVER_RENEW_BOUND_MS, JOB_ABORT_BOUND_MS, PAUSE_READ_BOUND_MS, REATTACH_EARLY_BOUND_MS, RESTART_CLOSE_BOUND_MS, RESTART_IN_PLACE_EXIT_CODE, StopProgress, stopDeadlineMs, TICK_EXIT_BOUND_MS,
} from './loop/way-out.js';
import { createJobRunner, startsWritable } from './loop/jobs.js';
import { createPeerHttp } from './loop/peer-http.js';
import { componentLogger } from './obs/logger.js';
import { startingSnapshot, withEtcdMembers, type StatusSnapshot } from './obs/status.js';
import { asError } from './errors.js';

export interface RunAgentOptions {
  readonly config: Config;
  readonly logger: Logger;
  readonly configFile: string;
}

export async function runAgent(opts: RunAgentOptions): Promise<number> {
  let config = opts.config;
  const root = opts.logger;
  const log = componentLogger(root, 'daemon');
  const clock = systemClock;
  const agentVersion = `pg-ha-agent/${packageVersion()}`;
  const boot = config.bootstrap.dcs;
  log.info({ version: agentVersion, pid: process.pid, dataDir: config.postgresql.data_dir }, 'agent starting');
  // SIGUSR2 from the start: Node's default action would end the process. A request that arrives
  // while we start is carried out once the way out is set up.
  let restartAsked: string | null = null;
  let onRestartRequest = (via: string): void => { restartAsked = via; };
  process.on('SIGUSR2', () => onRestartRequest('SIGUSR2'));

  // Before our own guard starts (it rewrites the record): what the previous run on this data dir
  // left, so that only the lease it proved the leader key under may be re-attached.
  const handover = readHandover(config.postgresql.data_dir);
  const dcs = createEtcdDcs({ config, ttlSec: boot.ttl, retryTimeoutSec: boot.retry_timeout, clock, logger: root, reattachableLease: handover.leaseId });
  const runner = createExecaRunner({ logger: componentLogger(root, 'runner') });
  let loop: AgentLoop | null = null;
  // Bound once the job runner exists; Fencing reads it when it arms.
  let jobsRef: ReturnType<typeof createJobRunner> | null = null;
  const dynamic = () => loop?.dynamic() ?? effectiveDynamicConfig(config, null);
  const pg = createPgAdapter({ config, logger: componentLogger(root, 'postgres'), runner, clock, dynamic });
  // A pgpass an older version left (wildcard lines) is rewritten to its scoped form now, not at the
  // next start, follow or config change of PostgreSQL (docs/postgres.md).
  await fileOwner(config).then((owner) => writePgpass(config, owner)).catch((err: unknown) => log.warn({ err: asError(err) }, 'could not rewrite the pgpass file'));
  const fenceLog = componentLogger(root, 'fence');
  const fenceTimer = createFenceTimer({
    clock, logger: fenceLog,
    fence: (reason) => {
      loop?.countFence();
      void pg.fence(reason).catch((err: unknown) => fenceLog.error({ err: asError(err) }, 'fence failed'));
    },
  });
  const guard = startFenceGuard({ dataDir: config.postgresql.data_dir, logger: fenceLog, handover });
  const fencing = new Fencing({
    dcs, clock, logger: fenceLog, dataDir: config.postgresql.data_dir, paused: () => dynamic().pause, viewKnown: () => loop?.hasSeenCluster() ?? false, fenceTimer, guard,
    startingWritable: () => startsWritable(jobsRef?.running()?.spec ?? null),
    fence: (reason) => {
      loop?.countFence();
      void pg.fence(reason).catch((err: unknown) => fenceLog.error({ err: asError(err) }, 'fence failed'));
    },
    wake: () => loop?.wake(),
  });
  // A restarted agent whose previous run left a writable primary: its handed-over deadline is
  // enforced here too, not only by the guard, until the key is re-attached.
  fencing.apply();
  // Restart in place of a leader: prove the key at once, while the rest starts (the first tick's
  // observation can take seconds on a busy host), so the handed-over deadline is replaced early.
  const early = fencing.handedOverDeadline() !== null && handover.leaseId !== null ? reattachEarly({ dcs, fencing, log }) : Promise.resolve();
  let status: StatusSnapshot = startingSnapshot({ name: config.name, scope: config.scope, agentVersion, dynamic: boot, tags: config.tags, nowMonoMs: clock.monoMs() });
  const peerHttp = createPeerHttp(() => config.restapi);
  // Callbacks see what the loop and the jobs do to PostgreSQL; the fence paths above and the
  // shutdown below use the bare adapter, so no user command is ever in their way.
  const callbacks = createCallbackExecutor({
    commands: () => config.postgresql.callbacks, scope: () => config.scope, runner, logger: componentLogger(root, 'callbacks'),
  });
  const pgCb = withCallbacks(pg, callbacks);
  const jobs = createJobRunner({ selfName: config.name, pg: pgCb, dcs, clock, logger: componentLogger(root, 'jobs'), dynamicConfig: dynamic, peerHttp, onFinished: () => loop?.wake() });
  jobsRef = jobs;
  loop = new AgentLoop({
    config: () => config, dcs, pg: pgCb, jobs, clock, logger: componentLogger(root, 'loop'), agentVersion, fencing, peerHttp,
    publish: (snap) => { status = snap; },
  });

  const stop = new AbortController();
  let termination: 'term' | 'restart' | null = null;
  const actionsLog = componentLogger(root, 'api');
  const local = createLocalActions({
    jobs, getStatus: () => status, wallNowMs: () => clock.wallNowMs(),
    onScheduledRestart: (outcome) => actionsLog.info({ outcome }, 'scheduled restart ran'),
  });
  const walNow = createWalNow(config, componentLogger(root, 'api')); // GET /patroni's fresh position (S2 d)
  const apiLog = componentLogger(root, 'api');
  const warnOpenApi = (): void => {
    const warning = openApiWarning(config.restapi);
    if (warning !== null) apiLog.warn({ listen: config.restapi.listen }, warning);
  };
  const api = buildServer({
    config, restapi: () => config.restapi, getStatus: () => withEtcdMembers(status, dcs.etcdMembers()), clock, dcs, logger: componentLogger(root, 'api'), readFreshWal: walNow.read,
    wakeLoop: () => loop?.wake(),
    postmasterAlive: () => postmasterAlive(config.postgresql.data_dir),
    requestRestart: (req) => local.restart(req),
    cancelScheduledRestart: async () => local.cancelScheduledRestart(),
    requestReinitialize: (req) => local.reinitialize(req),
    requestReload: async () => reload(),
    agentProcess: { pid: process.pid, startedAt: new Date(Date.now() - process.uptime() * 1000).toISOString(), version: agentVersion },
    requestAgentRestart: ({ force }) => {
      const job = jobs.running();
      if (job && !force) return { accepted: false, status: 409, reason: `a ${job.spec.kind} job is running; restart the agent after it ends (or force it: the job is aborted)` };
      if (termination !== null) return { accepted: false, status: 503, reason: `the agent is already ${termination === 'restart' ? 'restarting' : 'stopping'}` };
      // After the reply has gone out.
      setImmediate(() => onRestartRequest('rest api'));
      return { accepted: true };
    },
  });
  const reload = async (): Promise<void> => {
    try {
      const next = await loadConfig(opts.configFile, process.env);
      const before = config.restapi;
      config = next;
      log.info('configuration reloaded');
      applyRestApiReload(before);
    } catch (err) {
      log.error({ err: asError(err) }, 'configuration reload failed; keeping the previous one');
    }
  };
  // The access check reads config.restapi per request (buildServer's restapi getter); TLS files
  // are swapped here. A failure keeps the previous TLS context: the old certificate still serves.
  const applyRestApiReload = (before: Config['restapi']): void => {
    try {
      const tls = reloadTls(api.server as { setSecureContext?: (o: object) => void }, before, config.restapi);
      if (tls.kind === 'applied') apiLog.info('rest api tls files reloaded');
      if (tls.kind === 'restart') apiLog.warn({ reason: tls.reason }, 'rest api tls change needs an agent restart to apply');
    } catch (err) {
      const e = err as Error;
      // The cause is the fs error (ENOENT, EACCES): its code says what to fix.
      apiLog.error({ err: { type: e.name, code: 'RESTAPI_TLS_RELOAD', message: e.message, cause: (e.cause as NodeJS.ErrnoException | undefined)?.code } },
        'rest api tls files not reloaded; keeping the previous ones');
    }
    if (before.authentication !== undefined && config.restapi.authentication === undefined) warnOpenApi();
  };
  warnOpenApi();
  try {
    await api.listen({ host: config.restapi.listen.host, port: config.restapi.listen.port });
  } catch (err) {
    log.fatal({ err: asError(err), listen: config.restapi.listen }, 'rest api could not listen');
    // Nothing was decided yet: the guard keeps any handed-over deadline and fences at it.
    fencing.close();
    await guard.close();
    await dcs.close();
    return 1;
  }

  void (async () => {
    try {
      for await (const hint of dcs.changes(stop.signal)) {
        // Our leader key deleted or replaced (etcdctl del, a revoked lease): answered at once,
        // not at the next tick (S1).
        if (touchesLeaderKey(hint) && dcs.leadership() !== null) void dcs.checkLeadership().catch(() => false);
        if (wakesTheLoop(hint)) loop?.wake();
      }
    } catch (err) {
      if (!stop.signal.aborted) log.warn({ err: asError(err) }, 'etcd watch ended');
    }
  })();
  const pmWatch = watchPostmaster({ dataDir: config.postgresql.data_dir, onGone: () => loop?.wake() });

  const stopping = new StopProgress(log);
  const onStopSignal = (): void => {
    // A stop wins over a restart in place still under way: the operator wants the node down.
    termination = 'term';
    stopping.arm(stopDeadlineMs(dynamic().ttl), () => lastResortExit(config, dynamic().pause, log));
    stop.abort();
  };
  // Restart in place (docs/agent-restart.md): PostgreSQL keeps running in its role, the leader key
  // and the member key stay, the guard keeps the deadline; the next run re-attaches the key.
  onRestartRequest = (via: string): void => {
    if (termination !== null) return;
    termination = 'restart';
    log.info({ via, exitCode: RESTART_IN_PLACE_EXIT_CODE }, 'restart in place requested: postgresql keeps running in its role, the leader key stays held and the fence guard keeps the deadline');
    stopping.arm(stopDeadlineMs(dynamic().ttl), () => lastResortExit(config, dynamic().pause, log));
    stop.abort();
  };
  process.on('SIGTERM', onStopSignal);
  process.on('SIGINT', onStopSignal);
  process.on('SIGHUP', () => { void reload().then(() => loop?.wake()); });
  if (restartAsked !== null) onRestartRequest(restartAsked);

  // Started before the API and the loop are set up, awaited before the first tick.
  await early;

  let code: number;
  try {
    // A tick stuck in a slow call must not hold the way out: past the bound, shutdown decides on
    // fresh facts without it.
    code = await Promise.race([loop.run(stop.signal), afterAbort(stop.signal, TICK_EXIT_BOUND_MS, 0)]);
  } catch (err) {
    log.fatal({ err: asError(err) }, 'agent loop failed');
    code = 1;
  }
  if (termination === null && code !== 0) stopping.arm(stopDeadlineMs(dynamic().ttl), () => lastResortExit(config, dynamic().pause, log));
  stopping.stage('leaving the loop');
  pmWatch.close();
  // Every way out fences first (SPEC 5.12): a halt (refusal, fatal error) as well as a signal stops
  // a PostgreSQL that may be writable, or hands over cleanly. The fence timer and the guard stay
  // armed until it is stopped; the guard outlives us if it is not.
  if (termination === 'restart' && code === 0) {
    stopping.stage('handing over to the next agent run');
    await bounded(jobs.stop(), JOB_ABORT_BOUND_MS);
    // What nobody waits for closes first: the last keepalive is taken as late as possible, so the
    // next run gets as much of the TTL as there is.
    await Promise.all([bounded(pg.close(), RESTART_CLOSE_BOUND_MS), bounded(walNow.close(), RESTART_CLOSE_BOUND_MS)]);
    await handOverInPlace({ dcs, log, clock });
    code = RESTART_IN_PLACE_EXIT_CODE;
  } else if (termination !== null || code !== 0) {
    // A job holds the supervisor's lock (a start, a clone): it must not delay the stop.
    stopping.stage('aborting the running job');
    await bounded(jobs.stop(), JOB_ABORT_BOUND_MS);
    // Pause as etcd says now: an operator who lifted it a moment ago expects a stop to hand over.
    stopping.stage('reading pause from etcd');
    let fresh = false;
    await bounded(loop.refreshView(AbortSignal.timeout(PAUSE_READ_BOUND_MS)).then((ok) => { fresh = ok; }), PAUSE_READ_BOUND_MS + 200);
    if (!fresh) log.warn({ paused: dynamic().pause }, 'could not read the cluster config on shutdown; deciding pause from the last view');
    stopping.stage('stopping postgresql and releasing the key');
    await shutdown({ pg, dcs, log, paused: dynamic().pause, clock, dataDir: config.postgresql.data_dir, why: termination !== null ? 'signal' : `exit code ${code}`, joined: loop.isJoined() });
  }
  fencing.apply();
  fencing.close();
  stopping.stage('closing the guard, the api and the connections');
  await guard.close();
  // A restart in place is on the clock (the next run must re-attach before the deadline) and the
  // process exit closes whatever is left: no waiting for idle keep-alive connections.
  const closeBound = code === RESTART_IN_PLACE_EXIT_CODE ? RESTART_CLOSE_BOUND_MS : CLOSE_BOUND_MS;
  await Promise.all([api.close(), pg.close(), walNow.close(), dcs.close()].map((p) => bounded(p, closeBound)));
  stopping.done();
  log.info({ exitCode: code }, 'agent stopped');
  return code;
}

/**
 * SIGTERM or a halt: a PostgreSQL that may be writable is stopped cleanly within what is left of
 * the proven lease (fenced when there is too little, or no proven lease at all), then the key is
 * released so a replica takes over at once. Decided on fresh facts (the postmaster, the lease
 * keeper), not on the last tick's status. A replica is left running (KillMode=process semantics).
 */
async function shutdown(args: {
  pg: ReturnType<typeof createPgAdapter>; dcs: ReturnType<typeof createEtcdDcs>;
  log: Logger; paused: boolean; clock: typeof systemClock; dataDir: string; why: string;
  /** Our member key is ours to delete only if this run wrote it (a refusing newcomer shares the name). */
  joined: boolean;
}): Promise<void> {
  const { pg, dcs, log, clock } = args;
  if (args.paused) {
    log.info({ why: args.why }, 'paused: leaving postgresql running on shutdown');
    return;
  }
  const leadership = dcs.leadership();
  const pm = postmasterWriteState(args.dataDir);
  if (pm.mayBeWritable || (leadership !== null && pm.alive)) {
    // A clean stop, but never past the lease deadline: nobody renews it any more.
    const budgetMs = Math.min(60_000, (leadership?.validUntilMs ?? -Infinity) - clock.monoMs() - 500);
    log.info({ why: args.why, budgetMs: Math.round(budgetMs) }, 'shutting down as primary: stopping postgresql, then releasing the leader key');
    try {
      if (budgetMs < 1_000) throw new Error('no proven lease time left for a clean stop');
      // The budget covers the wait for a command in flight too, not only pg_ctl.
      await pg.stop('fast', Math.floor(budgetMs), AbortSignal.timeout(Math.floor(budgetMs)));
    } catch (err) {
      log.error({ err: asError(err) }, 'clean stop failed; fencing');
      await pg.fence(`shutdown (${args.why})`);
    }
  }
  if (leadership !== null) {
    const released = await dcs.releaseLeader().catch(() => false);
    log.info({ released }, 'leader key released');
  }
  if (args.joined) await dcs.deleteMember().catch(() => undefined);
}

/**
 * Restart in place: nothing is stopped or released. One last keepalive gives the next run the
 * whole TTL (minus the margin) to come back; fencing.apply() right after hands that fresh deadline
 * and the lease id to the guard, which outlives us and fences at the deadline if no run re-attaches.
 */
async function handOverInPlace(args: { dcs: ReturnType<typeof createEtcdDcs>; log: Logger; clock: typeof systemClock }): Promise<void> {
  const { dcs, log, clock } = args;
  const leadership = dcs.leadership();
  if (leadership === null) {
    log.info({ leaseId: dcs.lease().leaseId }, 'restart in place: not the leader; postgresql and the member key stay');
    return;
  }
  const renewed = await Promise.race([
    dcs.renewLeader(AbortSignal.timeout(HANDOVER_RENEW_BOUND_MS)).catch(() => false),
    new Promise<boolean>((r) => setTimeout(() => r(false), HANDOVER_RENEW_BOUND_MS).unref()),
  ]);
  const after = dcs.leadership();
  log.info({ renewed, leaseId: after?.leaseId ?? leadership.leaseId, msLeft: Math.round((after ?? leadership).validUntilMs - clock.monoMs()) },
    'restart in place: leader key kept; the fence guard holds the deadline until the next run re-attaches it');
}

/**
 * The key under the lease our previous run handed over, moved onto ours now (renewLeader only
 * re-attaches from that lease). The loop decides everything else on its first tick; if this fails,
 * that tick tries again, and the guard keeps the handed-over deadline meanwhile.
 */
async function reattachEarly(args: { dcs: ReturnType<typeof createEtcdDcs>; fencing: Fencing; log: Logger }): Promise<void> {
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

/** The stop hung: fence a PostgreSQL that may be writable (not in pause: the operator keeps it), then exit. */
function lastResortExit(config: Config, paused: boolean, log: Logger): void {
  const pm = postmasterWriteState(config.postgresql.data_dir);
  const fenced = !paused && pm.mayBeWritable ? fenceNow({ config, logger: log }, 'the agent did not finish stopping in time') : Promise.resolve(null);
  void fenced.catch(() => null).finally(() => process.exit(1));
}

/** A watch hint that names the leader key (or may have missed it). */
export function touchesLeaderKey(hint: DcsChangeHint): boolean {
  return hint.resync === true || hint.keys === undefined || hint.keys.includes('leader');
}

/**
 * Member keys and the leader's status are rewritten every tick by every agent: waking on them would
 * make the agents wake each other in a loop. The leader key, failover, config, initialize, sync and
 * history are what a tick must react to at once.
 */
export function wakesTheLoop(hint: DcsChangeHint): boolean {
  if (hint.resync === true || hint.keys === undefined) return true;
  return hint.keys.some((k) => !k.startsWith('members/') && k !== 'status');
}
