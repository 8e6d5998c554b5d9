// Health endpoints (GET, HEAD, OPTIONS), GET /patroni and GET /metrics. Health handlers read only
// the published snapshot, the clock and postmaster.pid: no etcd, no PostgreSQL (the one wait is
// for a bootstrap this node runs as key holder, see settledStatus). GET /patroni adds one bounded WAL position query (fresh-wal.ts), for the leader race.
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { METRICS_CONTENT_TYPE, renderMetrics } from '../obs/metrics.js';
import type { ApiContext } from './context.js';
import type { HealthCheck } from './health.js';
import { HEALTH_PATHS, evaluateHealth, parseHealthQuery, renderStatusBody } from './health.js';
import { overlayFreshWal, readFreshWal } from './fresh-wal.js';
import { sendError } from './replies.js';
import { liveSnapshot, type StatusSnapshot } from '../obs/status.js';

/** The published snapshot as of now (obs/status.ts liveSnapshot). */
function liveStatus(ctx: ApiContext): StatusSnapshot {
  const snap = ctx.deps.getStatus();
  const alive = snap.node.state !== 'running' || !ctx.deps.postmasterAlive || ctx.deps.postmasterAlive();
  return liveSnapshot(snap, alive, ctx.deps.startingAs?.() ?? null);
}

/** Shorter than a racing peer's probe timeout (2 s), so a slow PostgreSQL costs no probe. */
const FRESH_WAL_TIMEOUT_MS = 500;

const SETTLE_POLL_MS = 100;

/**
 * This node took the leader key before initdb (S1: even a brand-new primary only runs under the
 * lease), so the key names it a few seconds before its PostgreSQL runs. Patroni takes the key after
 * the bootstrap, and clients (Patroni's acceptance suite among them) read "the key names X" as "X
 * answers as the primary". A health check asked in that window waits for the bootstrap's outcome,
 * bounded; past the bound it answers from the snapshot as it is (503 while still initializing).
 */
async function settledStatus(ctx: ApiContext, reply: FastifyReply): Promise<StatusSnapshot> {
  let snap = liveStatus(ctx);
  if (!bootstrappingAsLeader(snap)) return snap;
  const signal = ctx.requestSignal(reply);
  for (let waited = 0; bootstrappingAsLeader(snap) && waited < ctx.bootstrapAnswerWaitMs && !signal.aborted; waited += SETTLE_POLL_MS) {
    await sleep(SETTLE_POLL_MS, undefined, { signal }).catch(() => undefined);
    snap = liveStatus(ctx);
  }
  return snap;
}

function bootstrappingAsLeader(snap: StatusSnapshot): boolean {
  return snap.holdsLeader && snap.node.state === 'initializing new cluster';
}

function healthHandler(ctx: ApiContext, check: HealthCheck) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const snap = await settledStatus(ctx, reply);
    const now = ctx.deps.clock.monoMs();
    const filters = parseHealthQuery(request.query as Record<string, unknown>);
    if (!filters.ok) return sendError(reply, 400, filters.error);
    const code = evaluateHealth(check, snap, filters.value, now);
    // HAProxy's OPTIONS check (and HEAD) read the status line only.
    if (request.method !== 'GET') return reply.code(code).send();
    return reply.code(code).send(renderStatusBody(snap, now));
  };
}

export function registerHealthRoutes(app: FastifyInstance, ctx: ApiContext): void {
  for (const [url, check] of Object.entries(HEALTH_PATHS)) {
    app.route({ method: ['GET', 'HEAD', 'OPTIONS'], url, exposeHeadRoute: false, handler: healthHandler(ctx, check) });
  }
  app.get('/patroni', async (_request, reply) => {
    const fresh = await readFreshWal(ctx.deps.readFreshWal, FRESH_WAL_TIMEOUT_MS);
    const body = renderStatusBody(liveStatus(ctx), ctx.deps.clock.monoMs());
    return reply.code(200).send(ctx.deps.readFreshWal ? overlayFreshWal(body, fresh) : body);
  });
  app.get('/metrics', (_request, reply) => {
    return reply.code(200).type(METRICS_CONTENT_TYPE).send(renderMetrics(ctx.deps.getStatus(), ctx.deps.clock.monoMs()));
  });
}
