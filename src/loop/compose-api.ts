// The REST API wired to the agent's parts: status, operator requests, config reload (the same
// path as SIGHUP) and the restart in place. It decides nothing; it asks the loop.
import type { FastifyInstance } from 'fastify';
import { openApiWarning } from '../api/access.js';
import type { AgentRestartOutcome } from '../api/routes-agent.js';
import { buildServer } from '../api/server.js';
import { reloadTls } from '../api/tls.js';
import { loadConfig } from '../config/load.js';
import { answerAgentRestart } from '../core/shutdown.js';
import type { Config } from '../config/types.js';
import { componentLogger } from '../obs/logger.js';
import { withEtcdMembers } from '../obs/status.js';
import { postmasterAlive } from '../postgres/postmaster-watch.js';
import { createWalNow } from '../postgres/wal-now.js';
import { asError } from '../errors.js';
import { planReload } from '../config/reload.js';
import type { AgentParts } from './compose.js';
import { startsAs } from './jobs.js';
import { createLocalActions } from './local-actions.js';

export interface AgentApi {
  readonly server: FastifyInstance;
  /** GET /patroni's fresh WAL position reader: closed on the way out. */
  readonly walNow: ReturnType<typeof createWalNow>;
  /** Re-read the config file (SIGHUP, POST /reload); a failure keeps the previous one. */
  reload(): Promise<void>;
}

export interface ApiWiring {
  readonly configFile: string;
  /** What the daemon's way out says about the stop in progress, if any. */
  readonly terminating: () => 'term' | 'restart' | null;
  /** Ask the daemon for a restart in place (after the reply has gone out). */
  readonly restartInPlace: (via: string) => void;
}

export function composeApi(parts: AgentParts, wiring: ApiWiring): AgentApi {
  const { root, clock, dcs, loop } = parts;
  const log = componentLogger(root, 'daemon');
  const apiLog = componentLogger(root, 'api');
  const local = createLocalActions({
    requests: parts.requests, getStatus: parts.status, wallNowMs: () => clock.wallNowMs(),
    onScheduledRestart: (outcome) => apiLog.info({ outcome }, 'scheduled restart ran'),
  });
  const walNow = createWalNow(parts.config(), apiLog); // GET /patroni's fresh position (S2 d)
  const config = parts.config();
  const server = buildServer({
    config, restapi: () => parts.config().restapi, getStatus: () => withEtcdMembers(parts.status(), dcs.etcdMembers()), clock, dcs, logger: apiLog, readFreshWal: walNow.read,
    wakeLoop: () => loop.wake(),
    postmasterAlive: () => postmasterAlive(config.postgresql.data_dir),
    startingAs: () => startsAs(parts.jobs.running()?.spec ?? null),
    requestRestart: (req) => local.restart(req),
    cancelScheduledRestart: async () => local.cancelScheduledRestart(),
    requestReinitialize: (req) => local.reinitialize(req),
    requestReload: async () => reload(),
    agentProcess: { pid: process.pid, startedAt: new Date(Date.now() - process.uptime() * 1000).toISOString(), version: parts.agentVersion },
    requestAgentRestart: ({ force }) => agentRestartReply(parts, wiring, force),
  });
  const reload = async (): Promise<void> => {
    try {
      const next = await loadConfig(wiring.configFile, process.env);
      const before = parts.config().restapi;
      const plan = planReload(parts.config(), next);
      parts.setConfig(plan.config);
      if (plan.needRestart.length === 0) log.info('configuration reloaded');
      else {
        log.error({ code: 'RELOAD_NEEDS_RESTART', keys: plan.needRestart },
          `configuration reloaded except ${plan.needRestart.join(', ')}: these keep their running values until the agent restarts (agentctl restart-agent restarts it in place)`);
      }
      applyRestApiReload(parts, server, before);
    } catch (err) {
      log.error({ err: asError(err) }, 'configuration reload failed; keeping the previous one');
    }
  };
  warnOpenApi(parts);
  return { server, walNow, reload };
}

function agentRestartReply(parts: AgentParts, wiring: ApiWiring, force: boolean): AgentRestartOutcome {
  const answer = answerAgentRestart({ force, jobKind: parts.jobs.running()?.spec.kind ?? null, terminating: wiring.terminating() });
  // After the reply has gone out.
  if (answer.accepted) setImmediate(() => wiring.restartInPlace('rest api'));
  return answer;
}

function warnOpenApi(parts: AgentParts): void {
  const restapi = parts.config().restapi;
  const warning = openApiWarning(restapi);
  if (warning !== null) componentLogger(parts.root, 'api').warn({ listen: restapi.listen }, warning);
}

/**
 * The access check reads config.restapi per request (buildServer's restapi getter); TLS files are
 * swapped here. A failure keeps the previous TLS context: the old certificate still serves.
 */
function applyRestApiReload(parts: AgentParts, server: FastifyInstance, before: Config['restapi']): void {
  const apiLog = componentLogger(parts.root, 'api');
  const now = parts.config().restapi;
  try {
    const tls = reloadTls(server.server as { setSecureContext?: (o: object) => void }, before, now);
    if (tls.kind === 'applied') apiLog.info('rest api tls files reloaded');
    if (tls.kind === 'restart') apiLog.warn({ reason: tls.reason }, 'rest api tls change needs an agent restart to apply');
  } catch (err) {
    const e = err as Error;
    // The cause is the fs error (ENOENT, EACCES): its code says what to fix.
    apiLog.error({ err: { type: e.name, code: 'RESTAPI_TLS_RELOAD', message: e.message, cause: (e.cause as NodeJS.ErrnoException | undefined)?.code } },
      'rest api tls files not reloaded; keeping the previous ones');
  }
  if (before.authentication !== undefined && now.authentication === undefined) warnOpenApi(parts);
}
