// Composition root: the only place that starts things and handles signals.
import type { Logger } from 'pino';
import { createPgAdapter } from './agent/pg-adapter.js';
import { createLocalActions } from './agent/local-actions.js';
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
import { startFenceGuard } from './loop/fence-guard-client.js';
import { createJobRunner } from './loop/jobs.js';
import { componentLogger } from './obs/logger.js';
import { startingSnapshot, type StatusSnapshot } from './obs/status.js';

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
  let status: StatusSnapshot = startingSnapshot({ name: config.name, scope: config.scope, agentVersion, dynamic: boot, tags: config.tags, nowMonoMs: clock.monoMs() });
  const jobs = createJobRunner({ pg, dcs, clock, logger: componentLogger(root, 'jobs'), dynamicConfig: dynamic, onFinished: () => loop?.wake() });
  loop = new AgentLoop({
    config: () => config, dcs, pg, jobs, clock, logger: componentLogger(root, 'loop'), agentVersion, fenceTimer, guard,
    publish: (snap) => { status = snap; },
  });

  const stop = new AbortController();
  const actionsLog = componentLogger(root, 'api');
  const local = createLocalActions({
    jobs, getStatus: () => status, wallNowMs: () => clock.wallNowMs(),
    onScheduledRestart: (outcome) => actionsLog.info({ outcome }, 'scheduled restart ran'),
  });
  const api = buildServer({
    config, getStatus: () => status, clock, dcs, logger: componentLogger(root, 'api'),
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
    await guard.close();
    await dcs.close();
    return 1;
  }

  void (async () => {
    try {
      for await (const hint of dcs.changes(stop.signal)) if (wakesTheLoop(hint)) loop?.wake();
    } catch (err) {
      if (!stop.signal.aborted) log.warn({ err: String(err) }, 'etcd watch ended');
    }
  })();
  const pmWatch = watchPostmaster({ dataDir: config.postgresql.data_dir, onGone: () => loop?.wake() });

  let termination: 'term' | null = null;
  process.on('SIGTERM', () => { termination = 'term'; stop.abort(); });
  process.on('SIGINT', () => { termination = 'term'; stop.abort(); });
  process.on('SIGHUP', () => { void reload().then(() => loop?.wake()); });

  const code = await loop.run(stop.signal);
  pmWatch.close();
  // The fence timer and the guard stay armed until PostgreSQL is stopped (S1 holds during shutdown).
  if (termination === 'term') await shutdown({ status, pg, dcs, log, paused: dynamic().pause, clock });
  fenceTimer.close();
  await guard.close();
  await api.close().catch(() => undefined);
  await pg.close();
  await dcs.close().catch(() => undefined);
  log.info({ exitCode: code }, 'agent stopped');
  return code;
}

/** SIGTERM: a leader stops PostgreSQL cleanly, then releases the key so a replica takes over at once. */
async function shutdown(args: {
  status: StatusSnapshot; pg: ReturnType<typeof createPgAdapter>; dcs: ReturnType<typeof createEtcdDcs>;
  log: Logger; paused: boolean; clock: typeof systemClock;
}): Promise<void> {
  const { status, pg, dcs, log, clock } = args;
  if (args.paused) {
    log.info('paused: leaving postgresql running on shutdown');
    return;
  }
  const primary = status.node.role === 'primary' && status.node.state === 'running';
  if (primary || status.holdsLeader) {
    // A clean stop, but never past the lease deadline: nobody renews it any more.
    const budgetMs = Math.min(60_000, dcs.lease().validUntilMs - clock.monoMs() - 500);
    log.info({ budgetMs: Math.round(budgetMs) }, 'shutting down as primary: stopping postgresql, then releasing the leader key');
    try {
      if (budgetMs < 1_000) throw new Error('no lease time left for a clean stop');
      await pg.stop('fast', budgetMs);
    } catch (err) {
      log.error({ err: err instanceof Error ? err.message : String(err) }, 'clean stop failed; fencing');
      await pg.fence('shutdown');
    }
    const released = status.holdsLeader ? await dcs.releaseLeader().catch(() => false) : false;
    log.info({ released }, 'leader key released');
  }
  await dcs.deleteMember().catch(() => undefined);
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
