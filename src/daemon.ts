// Composition root: the only place that starts things and handles signals.
import type { Logger } from 'pino';
import { createPgAdapter } from './agent/pg-adapter.js';
import { createLocalActions } from './agent/local-actions.js';
import { createWalNow } from './agent/wal-now.js';
import { postmasterAlive, watchPostmaster } from './agent/postmaster-watch.js';
import { buildServer } from './api/server.js';
import { loadConfig } from './config/load.js';
import { packageVersion } from './config/version.js';
import type { Config } from './config/types.js';
import { createEtcdDcs } from './dcs/etcd-dcs.js';
import type { DcsChangeHint } from './dcs/port.js';
import { createExecaRunner } from './exec/runner.js';
import { AgentLoop } from './loop/agent-loop.js';
import { systemClock } from './loop/clock.js';
import { effectiveDynamicConfig } from './loop/dynamic-config.js';
import { createFenceTimer } from './loop/fence-timer.js';
import { Fencing } from './loop/fencing.js';
import { postmasterWriteState } from './postgres/files.js';
import { fenceNow } from './postgres/pgctl.js';
import { startFenceGuard } from './loop/fence-guard-client.js';
import { afterAbort, bounded, CLOSE_BOUND_MS, JOB_ABORT_BOUND_MS, StopProgress, stopDeadlineMs, TICK_EXIT_BOUND_MS } from './loop/way-out.js';
import { createJobRunner } from './loop/jobs.js';
import { componentLogger } from './obs/logger.js';
import { startingSnapshot, withEtcdMembers, type StatusSnapshot } from './obs/status.js';

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

  const dcs = createEtcdDcs({ config, ttlSec: boot.ttl, retryTimeoutSec: boot.retry_timeout, clock, logger: root });
  const runner = createExecaRunner({ logger: componentLogger(root, 'runner') });
  let loop: AgentLoop | null = null;
  const dynamic = () => loop?.dynamic() ?? effectiveDynamicConfig(config, null);
  const pg = createPgAdapter({ config, logger: componentLogger(root, 'postgres'), runner, clock, dynamic });
  const fenceLog = componentLogger(root, 'fence');
  const fenceTimer = createFenceTimer({
    clock, logger: fenceLog,
    fence: (reason) => {
      loop?.countFence();
      void pg.fence(reason).catch((err: unknown) => fenceLog.error({ err: String(err) }, 'fence failed'));
    },
  });
  const guard = startFenceGuard({ dataDir: config.postgresql.data_dir, logger: fenceLog });
  const fencing = new Fencing({
    dcs, clock, logger: fenceLog, dataDir: config.postgresql.data_dir, paused: () => dynamic().pause, viewKnown: () => loop?.hasSeenCluster() ?? false, fenceTimer, guard,
    fence: (reason) => {
      loop?.countFence();
      void pg.fence(reason).catch((err: unknown) => fenceLog.error({ err: String(err) }, 'fence failed'));
    },
    wake: () => loop?.wake(),
  });
  // A restarted agent whose previous run left a writable primary: its handed-over deadline is
  // enforced here too, not only by the guard, until the key is re-attached.
  fencing.apply();
  let status: StatusSnapshot = startingSnapshot({ name: config.name, scope: config.scope, agentVersion, dynamic: boot, tags: config.tags, nowMonoMs: clock.monoMs() });
  const jobs = createJobRunner({ selfName: config.name, pg, dcs, clock, logger: componentLogger(root, 'jobs'), dynamicConfig: dynamic, onFinished: () => loop?.wake() });
  loop = new AgentLoop({
    config: () => config, dcs, pg, jobs, clock, logger: componentLogger(root, 'loop'), agentVersion, fencing,
    publish: (snap) => { status = snap; },
  });

  const stop = new AbortController();
  const actionsLog = componentLogger(root, 'api');
  const local = createLocalActions({
    jobs, getStatus: () => status, wallNowMs: () => clock.wallNowMs(),
    onScheduledRestart: (outcome) => actionsLog.info({ outcome }, 'scheduled restart ran'),
  });
  const walNow = createWalNow(config, componentLogger(root, 'api')); // GET /patroni's fresh position (S2 d)
  const api = buildServer({
    config, getStatus: () => withEtcdMembers(status, dcs.etcdMembers()), clock, dcs, logger: componentLogger(root, 'api'), readFreshWal: walNow.read,
    wakeLoop: () => loop?.wake(),
    postmasterAlive: () => postmasterAlive(config.postgresql.data_dir),
    requestRestart: (req) => local.restart(req),
    cancelScheduledRestart: async () => local.cancelScheduledRestart(),
    requestReinitialize: (req) => local.reinitialize(req),
    requestReload: async () => reload(),
  });
  const reload = async (): Promise<void> => {
    try {
      const next = await loadConfig(opts.configFile, process.env);
      config = next;
      log.info('configuration reloaded');
    } catch (err) {
      log.error({ err: err instanceof Error ? err.message : String(err) }, 'configuration reload failed; keeping the previous one');
    }
  };
  try {
    await api.listen({ host: config.restapi.listen.host, port: config.restapi.listen.port });
  } catch (err) {
    log.fatal({ err: err instanceof Error ? err.message : String(err), listen: config.restapi.listen }, 'rest api could not listen');
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
      if (!stop.signal.aborted) log.warn({ err: String(err) }, 'etcd watch ended');
    }
  })();
  const pmWatch = watchPostmaster({ dataDir: config.postgresql.data_dir, onGone: () => loop?.wake() });

  let termination: 'term' | null = null;
  const stopping = new StopProgress(log);
  const onStopSignal = (): void => {
    termination = 'term';
    stopping.arm(stopDeadlineMs(dynamic().ttl), () => lastResortExit(config, dynamic().pause, log));
    stop.abort();
  };
  process.on('SIGTERM', onStopSignal);
  process.on('SIGINT', onStopSignal);
  process.on('SIGHUP', () => { void reload().then(() => loop?.wake()); });

  let code: number;
  try {
    // A tick stuck in a slow call must not hold the way out: past the bound, shutdown decides on
    // fresh facts without it.
    code = await Promise.race([loop.run(stop.signal), afterAbort(stop.signal, TICK_EXIT_BOUND_MS, 0)]);
  } catch (err) {
    log.fatal({ err: err instanceof Error ? err.message : String(err) }, 'agent loop failed');
    code = 1;
  }
  if (termination === null && code !== 0) stopping.arm(stopDeadlineMs(dynamic().ttl), () => lastResortExit(config, dynamic().pause, log));
  stopping.stage('leaving the loop');
  pmWatch.close();
  // Every way out fences first (SPEC 5.12): a halt (refusal, fatal error) as well as a signal stops
  // a PostgreSQL that may be writable, or hands over cleanly. The fence timer and the guard stay
  // armed until it is stopped; the guard outlives us if it is not.
  if (termination === 'term' || code !== 0) {
    // A job holds the supervisor's lock (a start, a clone): it must not delay the stop.
    stopping.stage('aborting the running job');
    await bounded(jobs.abort(), JOB_ABORT_BOUND_MS);
    stopping.stage('stopping postgresql and releasing the key');
    await shutdown({ pg, dcs, log, paused: dynamic().pause, clock, dataDir: config.postgresql.data_dir, why: termination === 'term' ? 'signal' : `exit code ${code}`, joined: loop.isJoined() });
  }
  fencing.apply();
  fencing.close();
  stopping.stage('closing the guard, the api and the connections');
  await guard.close();
  await bounded(api.close(), CLOSE_BOUND_MS);
  await bounded(pg.close(), CLOSE_BOUND_MS);
  await bounded(walNow.close(), CLOSE_BOUND_MS);
  await bounded(dcs.close(), CLOSE_BOUND_MS);
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
      log.error({ err: err instanceof Error ? err.message : String(err) }, 'clean stop failed; fencing');
      await pg.fence(`shutdown (${args.why})`);
    }
  }
  if (leadership !== null) {
    const released = await dcs.releaseLeader().catch(() => false);
    log.info({ released }, 'leader key released');
  }
  if (args.joined) await dcs.deleteMember().catch(() => undefined);
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
