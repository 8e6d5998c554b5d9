// Response conventions shared by every route (see docs/rest-api.md):
// - data (status, cluster, config, history) is JSON;
// - a successful action answers text/plain with Patroni's sentence (patronictl prints it as is);
// - every error answers JSON {"error": "<sentence naming what is wrong>"}; never a stack trace.
//   Exception: patronictl (User-Agent "Patroni/...") gets the bare sentence as text/plain, as from
//   Patroni, because it prints error bodies as they are and matches on some of them.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';

export function isPatroniClient(request: FastifyRequest | undefined): boolean {
  const ua = request?.headers['user-agent'];
  return typeof ua === 'string' && ua.startsWith('Patroni/');
}

export function sendError(
  reply: FastifyReply,
  status: number,
  message: string,
  headers: Readonly<Record<string, string>> = {},
): FastifyReply {
  reply.code(status).headers(headers);
  if (isPatroniClient(reply.request)) return reply.type('text/plain; charset=utf-8').send(message);
  return reply.type('application/json; charset=utf-8').send({ error: message });
}

export function sendText(reply: FastifyReply, status: number, text: string): FastifyReply {
  return reply.code(status).type('text/plain; charset=utf-8').send(text);
}

/** An action's outcome: 2xx goes out as Patroni's text, anything else as a JSON error. */
export interface Outcome {
  readonly status: number;
  readonly message: string;
  /** Why, in more words: appended in brackets for our clients; patronictl gets Patroni's sentence alone. */
  readonly detail?: string;
}

export function sendOutcome(reply: FastifyReply, outcome: Outcome): FastifyReply {
  if (outcome.status < 300) return sendText(reply, outcome.status, outcome.message);
  const full = outcome.detail && !isPatroniClient(reply.request) ? `${outcome.message} (${outcome.detail})` : outcome.message;
  return sendError(reply, outcome.status, full);
}

interface AjvError {
  readonly keyword: string;
  readonly instancePath: string;
  readonly params: Readonly<Record<string, unknown>>;
  readonly message?: string;
}

function joinField(parent: string, child: unknown): string {
  const name = String(child);
  return parent === '' ? name : `${parent}.${name}`;
}

/** One sentence naming the offending field, from fastify's (ajv) validation errors. */
export function describeValidation(errors: readonly AjvError[]): string {
  const e = errors[0];
  if (!e) return 'request body is invalid';
  const field = e.instancePath.replace(/^\//, '').split('/').join('.');
  switch (e.keyword) {
    case 'additionalProperties':
      return `unknown field '${joinField(field, e.params['additionalProperty'])}'`;
    case 'required':
      return `missing required field '${joinField(field, e.params['missingProperty'])}'`;
    case 'type':
      return field === ''
        ? 'request body must be a JSON object'
        : `field '${field}' must be of type ${String(e.params['type']).replace(',', ' or ')}`;
    case 'enum': {
      const allowed = (e.params['allowedValues'] as unknown[] | undefined) ?? [];
      return `field '${field}' must be one of ${allowed.map((v) => JSON.stringify(v)).join(', ')}`;
    }
    case 'minProperties':
      if (field === '') return 'request body must not be empty';
      return `field '${field}' must not be empty`;
    case 'maxLength':
      return `field '${field}' must be at most ${String(e.params['limit'])} characters long`;
    default:
      return `field '${field || 'body'}' ${e.message ?? 'is invalid'}`;
  }
}

/** Fastify's error handler: validation -> 400, framework 4xx -> same code, anything else -> 500. */
export function makeErrorHandler(logger: Logger, bodyLimitBytes: number) {
  return (error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply => {
    if (error.validation) {
      return sendError(reply, 400, describeValidation(error.validation as unknown as AjvError[]));
    }
    const status = error.statusCode ?? 500;
    if (status === 413) return sendError(reply, 413, `request body is larger than ${bodyLimitBytes} bytes`);
    if (status >= 400 && status < 500) return sendError(reply, status, error.message);
    logger.error({ err: error, method: request.method, url: request.url }, 'request failed');
    return sendError(reply, 500, 'internal error; see the agent log');
  };
}
