// The agent process itself (not PostgreSQL): GET /agent says which process answers, POST
// /restart-agent asks it to restart in place (issue 21; docs/agent-restart.md). Neither is a
// Patroni endpoint: Patroni has no way to restart itself without a failover.
import type { FastifyInstance } from 'fastify';
import type { ApiContext } from './context.js';
import { sendError, sendText } from './replies.js';

export interface AgentProcessInfo {
  readonly pid: number;
  /** ISO time the process started. */
  readonly startedAt: string;
  readonly version: string;
}

export type AgentRestartOutcome = { readonly accepted: true } | { readonly accepted: false; readonly status: 409 | 503; readonly reason: string };

const BODY_SCHEMA = {
  type: 'object',
  properties: { force: { type: 'boolean' } },
  additionalProperties: false,
} as const;

export function registerAgentRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get('/agent', async (_request, reply) => {
    const info = ctx.deps.agentProcess;
    if (!info) return sendError(reply, 503, 'agent process information is not available');
    return reply.type('application/json; charset=utf-8').send({ pid: info.pid, started_at: info.startedAt, version: info.version });
  });

  app.post('/restart-agent', {
    onRequest: ctx.guard,
    // A mutating request states its JSON body type (a plain form post from a browser cannot).
    preValidation: async (request, reply) => {
      const type = request.headers['content-type'] ?? '';
      if (!/^application\/json\b/i.test(type)) return sendError(reply, 415, 'POST /restart-agent needs Content-Type: application/json (a body of {} is enough)');
      if (request.body === undefined || request.body === null) request.body = {};
      return undefined;
    },
    schema: { body: BODY_SCHEMA },
  }, async (request, reply) => {
    const restart = ctx.deps.requestAgentRestart;
    if (!restart) return sendError(reply, 503, 'restart in place is not available on this node');
    const force = (request.body as { force?: boolean }).force === true;
    const outcome = restart({ force });
    if (!outcome.accepted) return sendError(reply, outcome.status, outcome.reason);
    ctx.log.info({ force }, 'restart in place requested over the rest api');
    return sendText(reply, 202, `restarting the agent in place (pid ${ctx.deps.agentProcess?.pid ?? process.pid}); postgresql keeps running`);
  });
}
