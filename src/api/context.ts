// What every route module receives: the dependencies, the resolved options, the access guard for
// mutating routes, and request-scoped abort signals (client gone or server closing).
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { Config, RestApiConfig } from '../config/types.js';
import type { Clock } from '../core/clock.js';
import type { Dcs } from '../dcs/port.js';
import type { StatusSnapshot } from '../obs/status.js';
import type {
  ReinitializeOutcome,
  ReinitializeRequest,
  RestartOutcome,
  RestartRequest,
} from './local-actions.js';
import type { ReadFreshWal } from './fresh-wal.js';
import type { ConnectionLimits } from './connections.js';
import type { AgentProcessInfo, AgentRestartOutcome } from './routes-agent.js';
import type { HttpsOptions } from './tls.js';

export interface ApiOptions {
  /** Largest accepted request body; larger ones get 413. Default 64 KiB. */
  readonly bodyLimitBytes?: number;
  /** Bound on one etcd read or write made by an admin request. Default 3000 ms. */
  readonly dcsTimeoutMs?: number;
  /** How often POST /switchover looks at etcd while it waits for the result. Default 200 ms. */
  readonly switchoverPollIntervalMs?: number;
  /** How long POST /switchover waits before answering 503 "status unknown". Default max(10 s, ttl + loop_wait). */
  readonly switchoverTimeoutMs?: number;
  /**
   * How long a health check asked while this node holds the key and bootstraps the cluster waits
   * for the bootstrap's outcome before it answers. Default 10000 ms.
   */
  readonly bootstrapAnswerWaitMs?: number;
  /** Slow-client bounds (connections.ts); defaults in DEFAULT_CONNECTION_LIMITS. */
  readonly connectionLimits?: Partial<ConnectionLimits>;
}

export interface ApiDeps {
  readonly config: Config;
  /** The restapi section in force, read per admin request so a reload applies; default config.restapi. */
  readonly restapi?: () => RestApiConfig;
  /** The status the agent loop published last; the only state health checks read. */
  readonly getStatus: () => StatusSnapshot;
  readonly clock: Clock;
  /** For admin intents (failover key, config) and fresh reads on admin requests only. */
  readonly dcs: Dcs;
  /** The API's component logger (the daemon passes a child with component: 'api'). */
  readonly logger: Logger;
  readonly requestRestart?: (req: RestartRequest, signal?: AbortSignal) => Promise<RestartOutcome>;
  /** Cancel a scheduled restart; false when none was scheduled. */
  readonly cancelScheduledRestart?: (signal?: AbortSignal) => Promise<boolean>;
  readonly requestReinitialize?: (req: ReinitializeRequest, signal?: AbortSignal) => Promise<ReinitializeOutcome>;
  /** Re-read the config file (as SIGHUP does). */
  readonly requestReload?: (signal?: AbortSignal) => Promise<void>;
  /**
   * Whether this node's postmaster is alive now (postmaster.pid and signal 0): a postmaster that
   * died since the last tick is reported stopped at once, as Patroni, which asks PostgreSQL on
   * every request, does. Absent: the snapshot alone.
   */
  readonly postmasterAlive?: () => boolean;
  /** What a job running now starts PostgreSQL as (pg_ha_agent.starting_as); absent: never. */
  readonly startingAs?: () => 'primary' | 'replica' | null;
  /** GET /agent: which agent process answers (agentctl restart-agent waits for a new pid). */
  readonly agentProcess?: AgentProcessInfo;
  /** POST /restart-agent: restart this agent in place (docs/agent-restart.md); answers at once. */
  readonly requestAgentRestart?: (req: { force: boolean }) => AgentRestartOutcome;
  /** Wake the agent loop after an intent was written (it also wakes from its etcd watch). */
  readonly wakeLoop?: () => void;
  /** GET /patroni's WAL position read at request time (bounded; the cached one when it fails). */
  readonly readFreshWal?: ReadFreshWal;
  /** TLS options; default: built from config.restapi with buildHttpsOptions. null forces plain HTTP. */
  readonly https?: HttpsOptions | null;
  readonly options?: ApiOptions;
}

export interface ApiContext {
  readonly deps: ApiDeps;
  readonly log: Logger;
  readonly bodyLimitBytes: number;
  readonly dcsTimeoutMs: number;
  readonly pollIntervalMs: number;
  readonly switchoverTimeoutMs: number | undefined;
  readonly bootstrapAnswerWaitMs: number;
  /** onRequest hook for mutating routes: allowlist, client certificate, basic auth. */
  readonly guard: (request: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply | undefined>;
  /** Aborts when the client goes away or the server closes. */
  readonly requestSignal: (reply: FastifyReply) => AbortSignal;
}
