// Mutating action routes: switchover/failover intents (etcd) and local actions (agent callbacks).
// Every route here is behind the access guard.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ClusterView } from '../core/cluster.js';
import type { ApiContext } from './context.js';
import type { RestartBody } from './local-actions.js';
import {
  REINITIALIZE_BODY_SCHEMA,
  RESTART_BODY_SCHEMA,
  parseRestartBody,
  restartOutcome,
} from './local-actions.js';
import { sendError, sendOutcome, sendText } from './replies.js';
import type { ManualAction, SwitchoverBody, SwitchoverContext } from './switchover.js';
import { SWITCHOVER_BODY_SCHEMA, cancelScheduledSwitchover, requestManualFailover } from './switchover.js';

function switchoverContext(ctx: ApiContext, reply: FastifyReply): SwitchoverContext {
  return {
    dcs: ctx.deps.dcs,
    clock: ctx.deps.clock,
    dcsTimeoutMs: ctx.dcsTimeoutMs,
    pollIntervalMs: ctx.pollIntervalMs,
    completionTimeoutMs: (cluster: ClusterView) => {
      if (ctx.switchoverTimeoutMs !== undefined) return ctx.switchoverTimeoutMs;
      const dyn = cluster.config?.value;
      const status = ctx.deps.getStatus();
      return Math.max(10, (dyn?.ttl ?? status.ttlSec) + (dyn?.loop_wait ?? status.loopWaitSec)) * 1000;
    },
    signal: ctx.requestSignal(reply),
  };
}

function manualFailoverHandler(ctx: ApiContext, action: ManualAction) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const body = request.body as SwitchoverBody;
    ctx.log.info({ action, leader: body.leader ?? null, candidate: body.candidate ?? body.member ?? null,
      scheduledAt: body.scheduled_at ?? null }, 'manual failover requested');
    const swCtx = switchoverContext(ctx, reply);
    const outcome = await requestManualFailover(action, body, ctx.deps.getStatus().paused, swCtx);
    if (outcome.status < 300 || outcome.status === 503) ctx.deps.wakeLoop?.();
    ctx.log.info({ action, statusCode: outcome.status, result: outcome.message }, 'manual failover answered');
    return sendOutcome(reply, outcome);
  };
}

/** Routes whose body may be absent: treat "no body" as {} before schema validation. */
async function defaultEmptyBody(request: FastifyRequest): Promise<void> {
  if (request.body === undefined || request.body === null) request.body = {};
}

function registerSwitchover(app: FastifyInstance, ctx: ApiContext): void {
  const opts = { onRequest: ctx.guard, schema: { body: SWITCHOVER_BODY_SCHEMA } };
  app.post('/switchover', opts, manualFailoverHandler(ctx, 'switchover'));
  app.post('/failover', opts, manualFailoverHandler(ctx, 'failover'));
  app.delete('/switchover', { onRequest: ctx.guard }, async (_request, reply) => {
    const outcome = await cancelScheduledSwitchover(switchoverContext(ctx, reply));
    if (outcome.status === 200) ctx.log.info('scheduled switchover cancelled');
    return sendOutcome(reply, outcome);
  });
}

function registerRestart(app: FastifyInstance, ctx: ApiContext): void {
  const opts = { onRequest: ctx.guard, preValidation: defaultEmptyBody, schema: { body: RESTART_BODY_SCHEMA } };
  app.post('/restart', opts, async (request, reply) => {
    const parsed = parseRestartBody(request.body as RestartBody, ctx.deps.getStatus().paused, ctx.deps.clock.wallNowMs());
    if ('status' in parsed) return sendOutcome(reply, parsed);
    if (!ctx.deps.requestRestart) return sendError(reply, 503, 'restart is not available on this node');
    ctx.log.info({ request: parsed }, 'restart requested');
    const outcome = restartOutcome(await ctx.deps.requestRestart(parsed, ctx.requestSignal(reply)));
    return sendOutcome(reply, outcome);
  });
  app.delete('/restart', { onRequest: ctx.guard }, async (_request, reply) => {
    const cancelled = (await ctx.deps.cancelScheduledRestart?.(ctx.requestSignal(reply))) ?? false;
    return cancelled ? sendText(reply, 200, 'scheduled restart deleted') : sendError(reply, 404, 'no restarts are scheduled');
  });
}

function registerReinitializeAndReload(app: FastifyInstance, ctx: ApiContext): void {
  const opts = { onRequest: ctx.guard, preValidation: defaultEmptyBody, schema: { body: REINITIALIZE_BODY_SCHEMA } };
  app.post('/reinitialize', opts, async (request, reply) => {
    const body = request.body as { force?: boolean; from_leader?: boolean };
    if (!ctx.deps.requestReinitialize) return sendError(reply, 503, 'reinitialize is not available on this node');
    const req = { force: body.force === true, fromLeader: body.from_leader === true };
    ctx.log.info(req, 'reinitialize requested');
    const outcome = await ctx.deps.requestReinitialize(req, ctx.requestSignal(reply));
    return outcome.kind === 'started' ? sendText(reply, 200, 'reinitialize started') : sendError(reply, 503, outcome.reason);
  });
  app.post('/reload', { onRequest: ctx.guard }, async (_request, reply) => {
    if (!ctx.deps.requestReload) return sendError(reply, 503, 'reload is not available on this node');
    ctx.log.info('reload requested');
    await ctx.deps.requestReload(ctx.requestSignal(reply));
    return sendText(reply, 202, 'reload scheduled');
  });
}

export function registerActionRoutes(app: FastifyInstance, ctx: ApiContext): void {
  registerSwitchover(app, ctx);
  registerRestart(app, ctx);
  registerReinitializeAndReload(app, ctx);
}
