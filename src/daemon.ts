// Composition root: the only place that starts things and handles signals. The parts are built in
// src/loop/compose.ts, the way out is decided in src/core/shutdown.ts and carried out in src/loop/leave.ts.
import type { Logger } from 'pino';
import type { Config } from './config/types.js';
import { packageVersion } from './config/version.js';
import { componentLogger } from './obs/logger.js';
import { watchPostmaster } from './postgres/postmaster-watch.js';
import { asError } from './errors.js';
import { composeAgent, type AgentParts } from './loop/compose.js';
import { composeApi, type AgentApi } from './loop/compose-api.js';
import { lastResortExit, leave, leavePorts, shutdownWhy } from './loop/leave.js';
import { followChanges } from './loop/watch-hints.js';
import { afterAbort, RESTART_IN_PLACE_EXIT_CODE, StopProgress, stopDeadlineMs, TICK_EXIT_BOUND_MS } from './loop/way-out.js';


export interface RunAgentOptions {
  readonly config: Config;
  readonly logger: Logger;
  readonly configFile: string;
}

/** How the agent was asked to end: a stop (SIGTERM, SIGINT) or a restart in place; the first one wins, a stop wins over a restart. */
class Termination {
  kind: 'term' | 'restart' | null = null;
  /** A restart asked before the way out was set up (SIGUSR2 during start), carried out once it is. */
  private early: string | null = null;
  private onRestart: ((via: string) => void) | null = null;
  private onStop: (() => void) | null = null;

  requestRestart(via: string): void {
    if (this.onRestart === null) { this.early = via; return; }
    if (this.kind !== null) return;
    this.kind = 'restart';
    this.onRestart(via);
  }

  requestStop(): void {
    // A stop wins over a restart in place still under way: the operator wants the node down.
    this.kind = 'term';
    this.onStop?.();
  }

  arm(onStop: () => void, onRestart: (via: string) => void): void {
    this.onStop = onStop;
    this.onRestart = onRestart;
    if (this.early !== null) this.requestRestart(this.early);
  }
}

export async function runAgent(opts: RunAgentOptions): Promise<number> {
  const log = componentLogger(opts.logger, 'daemon');
  log.info({ version: `pg-ha-agent/${packageVersion()}`, pid: process.pid, dataDir: opts.config.postgresql.data_dir }, 'agent starting');
  const termination = new Termination();
  // SIGUSR2 from the start: Node's default action would end the process.
  process.on('SIGUSR2', () => termination.requestRestart('SIGUSR2'));
  const parts = await composeAgent({ config: opts.config, logger: opts.logger });
  const api = composeApi(parts, { configFile: opts.configFile, terminating: () => termination.kind, restartInPlace: (via) => termination.requestRestart(via) });
  if (!(await listen(parts, api, log))) return 1;
  const stop = new AbortController();
  void followChanges({ dcs: parts.dcs, wake: () => parts.loop.wake(), onEnd: (err) => log.warn({ err: asError(err) }, 'etcd watch ended') }, stop.signal);
  const pmWatch = watchPostmaster({ dataDir: parts.config().postgresql.data_dir, onGone: () => parts.loop.wake() });
  const stopping = new StopProgress(log);
  const armDeadline = (): void => stopping.arm(stopDeadlineMs(parts.dynamic().ttl), () => lastResortExit(parts.config(), parts.dynamic().pause, log));
  handleSignals(parts, api, termination, log, () => { armDeadline(); stop.abort(); });
  // Started before the API and the loop are set up, awaited before the first tick.
  await parts.early;
  const code = await runLoop(parts, stop.signal, log);
  if (termination.kind === null && code !== 0) armDeadline();
  stopping.stage('leaving the loop');
  pmWatch.close();
  const exitCode = await leave(leavePorts(parts, api), shutdownWhy(termination.kind, code), stopping);
  stopping.done();
  log.info({ exitCode }, 'agent stopped');
  return exitCode;
}

/** The REST API listens, or the agent ends before it decided anything. */
async function listen(parts: AgentParts, api: AgentApi, log: Logger): Promise<boolean> {
  const { listen: at } = parts.config().restapi;
  try {
    await api.server.listen({ host: at.host, port: at.port });
    return true;
  } catch (err) {
    log.fatal({ err: asError(err), listen: at }, 'rest api could not listen');
    // Nothing was decided yet: the guard keeps any handed-over deadline and fences at it.
    parts.fencing.close();
    await parts.guard.close();
    await parts.dcs.close();
    return false;
  }
}

/**
 * SIGTERM and SIGINT stop the node; SIGUSR2 (and POST /restart-agent) restart the agent in place
 * (docs/agent-restart.md): PostgreSQL keeps running in its role, the leader key and the member key
 * stay, the guard keeps the deadline; the next run re-attaches the key. SIGHUP re-reads the config.
 */
function handleSignals(parts: AgentParts, api: AgentApi, termination: Termination, log: Logger, leaveLoop: () => void): void {
  termination.arm(leaveLoop, (via) => {
    log.info({ via, exitCode: RESTART_IN_PLACE_EXIT_CODE }, 'restart in place requested: postgresql keeps running in its role, the leader key stays held and the fence guard keeps the deadline');
    leaveLoop();
  });
  process.on('SIGTERM', () => termination.requestStop());
  process.on('SIGINT', () => termination.requestStop());
  process.on('SIGHUP', () => { void api.reload().then(() => parts.loop.wake()); });
}

/** The loop until a stop or a halt; a tick stuck in a slow call must not hold the way out. */
async function runLoop(parts: AgentParts, signal: AbortSignal, log: Logger): Promise<number> {
  try {
    // Past the bound, the way out decides on fresh facts without the tick.
    return await Promise.race([parts.loop.run(signal), afterAbort(signal, TICK_EXIT_BOUND_MS, 0)]);
  } catch (err) {
    log.fatal({ err: asError(err) }, 'agent loop failed');
    return 1;
  }
}
