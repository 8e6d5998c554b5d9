// Health endpoints (GET, HEAD, OPTIONS), GET /patroni and GET /metrics. Health handlers are
// synchronous and read only the published snapshot, the clock and postmaster.pid: no etcd, no
// PostgreSQL. GET /patroni adds one bounded WAL position query (fresh-wal.ts), for the leader race.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { METRICS_CONTENT_TYPE, renderMetrics } from '../obs/metrics.js';
import type { ApiContext } from './context.js';
import type { HealthCheck } from './health.js';
import { HEALTH_PATHS, evaluateHealth, parseHealthQuery, renderStatusBody } from './health.js';
import { overlayFreshWal, readFreshWal } from './fresh-wal.js';
import { sendError } from './replies.js';
import type { StatusSnapshot } from '../obs/status.js';

/** The published snapshot, with a postmaster that died since the last tick shown as stopped. */
function liveStatus(ctx: ApiContext): StatusSnapshot {
  const snap = ctx.deps.getStatus();
  if (snap.node.state !== 'running' || !ctx.deps.postmasterAlive || ctx.deps.postmasterAlive()) return snap;
  const { postmaster_start_time: _t, replication_state: _r, replication: _l, ...node } = snap.node;
  return { ...snap, node: { ...node, state: 'stopped' } };
}

/** Shorter than a racing peer's probe timeout (2 s), so a slow PostgreSQL costs no probe. */
const FRESH_WAL_TIMEOUT_MS = 500;

function healthHandler(ctx: ApiContext, check: HealthCheck) {
  return (request: FastifyRequest, reply: FastifyReply): FastifyReply => {
    const snap = liveStatus(ctx);
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
