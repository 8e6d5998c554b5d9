// The REST API as a fastify factory. buildServer never listens: the daemon (or a test's inject())
// decides how requests arrive. Patroni-compatible paths, codes and field names (SPEC 6).
import type { TLSSocket } from 'node:tls';
import Fastify, { LogController } from 'fastify';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { RestApiConfig } from '../config/types.js';
import { buildAccessCheck, type AccessCheck } from './access.js';
import { DEFAULT_CONNECTION_LIMITS, checkingIntervalMs, guardConnections, type ConnectionLimits } from './connections.js';
import type { ApiContext, ApiDeps } from './context.js';
import { checkCrossSite } from './cross-site.js';
import { makeErrorHandler, sendError } from './replies.js';
import { registerActionRoutes } from './routes-actions.js';
import { registerAgentRoutes } from './routes-agent.js';
import { registerConfigRoutes } from './routes-config.js';
import { registerHealthRoutes } from './routes-health.js';
import { buildHttpsOptions } from './tls.js';

export type { ApiDeps, ApiOptions } from './context.js';

export const DEFAULT_BODY_LIMIT_BYTES = 64 * 1024;

class BodyError extends Error {
  readonly statusCode = 400;
}

/**
 * Bodies are read as JSON. Patroni reads them whatever their Content-Type (patronictl sends none);
 * the guard of mutating routes (cross-site.ts) refuses other declared types before this runs.
 */
function parseJsonBody(_request: FastifyRequest, body: string | Buffer, done: (err: Error | null, body?: unknown) => void): void {
  const text = body.toString().trim();
  if (text === '') {
    done(null, undefined);
    return;
  }
  try {
    done(null, JSON.parse(text, (key: string, value: unknown) => {
      if (key === '__proto__') throw new BodyError('request body must not contain a "__proto__" key');
      return value;
    }));
  } catch (err) {
    done(err instanceof BodyError ? err : new BodyError(`request body is not valid JSON: ${(err as Error).message}`));
  }
}

/**
 * The access check for the restapi section in force: rebuilt when a reload (SIGHUP, POST /reload)
 * hands over a new one, so a changed password or allowlist applies at once. A section the check
 * cannot be built from keeps the previous check (the loader validates the allowlist, so this is
 * a bug guard, not an expected path).
 */
function currentAccessCheck(deps: ApiDeps): () => AccessCheck {
  const restapi = deps.restapi ?? (() => deps.config.restapi);
  let builtFor: RestApiConfig = restapi();
  let check = buildAccessCheck(builtFor);
  return () => {
    const now = restapi();
    if (now === builtFor) return check;
    builtFor = now;
    try {
      check = buildAccessCheck(now);
      deps.logger.info({ authentication: now.authentication !== undefined, allowlist: now.allowlist }, 'rest api access settings reloaded');
    } catch (err) {
      const e = err as Error;
      deps.logger.error({ err: { type: e.name, code: 'RESTAPI_ACCESS_RELOAD', message: e.message, cause: e.cause } }, 'rest api access settings not reloaded; keeping the previous ones');
    }
    return check;
  };
}

function makeGuard(deps: ApiDeps): ApiContext['guard'] {
  const check = currentAccessCheck(deps);
  const log = deps.logger;
  return async (request, reply) => {
    const socket = request.raw.socket as Partial<TLSSocket> | undefined;
    const denial = check()({
      ip: request.ip,
      authorization: request.headers.authorization,
      tlsAuthorized: socket?.encrypted === true ? socket.authorized === true : null,
    });
    // Authentication first: an unauthenticated client learns nothing from the 403/415 below.
    const refused = denial ?? checkCrossSite(request.headers);
    if (!refused) return undefined;
    log.warn({ method: request.method, url: request.url, ip: request.ip, statusCode: refused.status, reason: refused.message },
      'request denied');
    return sendError(reply, refused.status, refused.message, denial?.headers ?? {});
  };
}

function makeRequestSignals(app: FastifyInstance): ApiContext['requestSignal'] {
  const inflight = new Set<AbortController>();
  // Abort long waits (a switchover being watched) so close() does not wait for them.
  app.addHook('preClose', async () => {
    for (const ac of inflight) ac.abort();
  });
  return (reply: FastifyReply) => {
    const ac = new AbortController();
    inflight.add(ac);
    reply.raw.once('close', () => {
      if (!reply.raw.writableFinished) ac.abort();
      inflight.delete(ac);
    });
    return ac.signal;
  };
}

function createApp(deps: ApiDeps, bodyLimitBytes: number, limits: ConnectionLimits): FastifyInstance {
  const https = deps.https === undefined ? buildHttpsOptions(deps.config.restapi) : deps.https;
  const serverOptions = { connectionsCheckingInterval: checkingIntervalMs(limits) };
  const common = {
    http: serverOptions,
    // close() must not wait for idle or half-sent requests (up to the headers timeout each).
    forceCloseConnections: true,
    loggerInstance: deps.logger,
    logController: new LogController({ disableRequestLogging: true }),
    // No child logger per request: health checks are the hot path and are never logged.
    childLoggerFactory: () => deps.logger,
    bodyLimit: bodyLimitBytes,
    routerOptions: { ignoreTrailingSlash: true },
    // Strict: no silent coercion or dropping of unknown fields; a bad body is a 400 naming it.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false, allowUnionTypes: true } },
  };
  const app = (https ? Fastify({ ...common, https: { ...https, ...serverOptions } }) : Fastify(common)) as unknown as FastifyInstance;
  guardConnections(app.server, limits, deps.logger);
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, parseJsonBody);
  app.setErrorHandler(makeErrorHandler(deps.logger, bodyLimitBytes));
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? '';
    return sendError(reply, 404, `no such endpoint: ${request.method} ${path.slice(0, 200)}`);
  });
  // Health checks arrive every second from every balancer: only admin requests are logged.
  app.addHook('onResponse', async (request, reply) => {
    if (request.method === 'GET' || request.method === 'HEAD' || request.method === 'OPTIONS') return;
    deps.logger.info({ method: request.method, url: request.url, ip: request.ip, statusCode: reply.statusCode,
      durationMs: Math.round(reply.elapsedTime) }, 'admin request served');
  });
  return app;
}

/** The REST API, ready for listen() or inject(). Throws on a bad restapi config (allowlist, TLS files). */
export function buildServer(deps: ApiDeps): FastifyInstance {
  const o = deps.options ?? {};
  const bodyLimitBytes = o.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES;
  const guard = makeGuard(deps);
  const app = createApp(deps, bodyLimitBytes, { ...DEFAULT_CONNECTION_LIMITS, ...o.connectionLimits });
  const ctx: ApiContext = {
    deps,
    log: deps.logger,
    bodyLimitBytes,
    dcsTimeoutMs: o.dcsTimeoutMs ?? 3000,
    pollIntervalMs: o.switchoverPollIntervalMs ?? 200,
    switchoverTimeoutMs: o.switchoverTimeoutMs,
    bootstrapAnswerWaitMs: o.bootstrapAnswerWaitMs ?? 10_000,
    guard,
    requestSignal: makeRequestSignals(app),
  };
  registerHealthRoutes(app, ctx);
  registerConfigRoutes(app, ctx);
  registerActionRoutes(app, ctx);
  registerAgentRoutes(app, ctx);
  return app;
}
