// GET /cluster, GET /history, GET /config, PATCH /config, PUT /config.
// Reads come from the cluster view the loop published (a fresh etcd read only when there is none
// yet); writes read etcd fresh and write with a compare on the config key's mod_revision.
import { isDeepStrictEqual } from 'node:util';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ConfigProblem, DynamicConfig } from '../config/index.js';
import { formatProblem, mergeDynamicConfig, storedPatchBase, validateDynamicConfig, validatePatchedConfig } from '../config/index.js';
import type { ClusterView } from '../core/cluster.js';
import { clusterJson, historyJson } from './cluster-json.js';
import type { ApiContext } from './context.js';
import { sendError } from './replies.js';

const CONFIG_BODY_SCHEMA = { type: 'object', minProperties: 1 } as const;

function freshCluster(ctx: ApiContext, reply: FastifyReply): Promise<ClusterView> {
  const signal = AbortSignal.any([ctx.requestSignal(reply), AbortSignal.timeout(ctx.dcsTimeoutMs)]);
  return ctx.deps.dcs.snapshot({ signal });
}

/** The published view, or one fresh read before the loop has published any. */
async function viewForRead(ctx: ApiContext, reply: FastifyReply): Promise<ClusterView | null> {
  const published = ctx.deps.getStatus().cluster;
  if (published) return published;
  try {
    return await freshCluster(ctx, reply);
  } catch {
    return null;
  }
}

const NO_VIEW = 'etcd is not reachable and this node has no cluster state yet';

type JsonObject = Record<string, unknown>;

function invalid(reply: FastifyReply, problems: readonly ConfigProblem[]): FastifyReply {
  return sendError(reply, 400, `invalid configuration: ${problems.map(formatProblem).join('; ')}`);
}

/** Timing adjusted as Patroni does, ignored keys: accepted, and said in the log. */
function logWarnings(ctx: ApiContext, warnings: readonly ConfigProblem[]): void {
  if (warnings.length > 0) ctx.log.warn({ warnings: warnings.map(formatProblem) }, 'dynamic configuration accepted with warnings');
}

async function writeConfig(ctx: ApiContext, reply: FastifyReply, config: DynamicConfig, expected: number | null): Promise<FastifyReply | null> {
  try {
    const ok = await ctx.deps.dcs.setConfig(config, expected, AbortSignal.timeout(ctx.dcsTimeoutMs));
    if (!ok) return sendError(reply, 409, 'the configuration changed concurrently; read it again and retry');
  } catch {
    return sendError(reply, 503, 'failed to write the configuration to etcd');
  }
  ctx.deps.wakeLoop?.();
  return null;
}

/** The stored `config` text parsed, when it is a JSON object; else the reason it is not. */
function storedObject(text: string): JsonObject | string {
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? v as JsonObject : 'it is not a JSON object';
  } catch (err) {
    return `it is not JSON (${(err as Error).message})`;
  }
}

/** What a PATCH merges into and compares against: the decoded value, or the stored JSON when it cannot be decoded. */
function patchBase(cluster: ClusterView): { base: JsonObject; modRevision: number } | { status: number; error: string } {
  if (cluster.config) return { base: cluster.config.value as unknown as JsonObject, modRevision: cluster.config.modRevision };
  const stored = cluster.configStored;
  if (!stored) return { status: 503, error: 'there is no configuration in etcd to patch' };
  const parsed = storedObject(stored.value);
  if (typeof parsed === 'string') return { status: 409, error: `the configuration in etcd cannot be patched: ${parsed}; replace it with PUT /config` };
  return { base: storedPatchBase(parsed), modRevision: stored.modRevision };
}

async function patchConfig(ctx: ApiContext, body: JsonObject, reply: FastifyReply): Promise<FastifyReply> {
  let cluster: ClusterView;
  try {
    cluster = await freshCluster(ctx, reply);
  } catch {
    return sendError(reply, 503, 'failed to read the configuration from etcd');
  }
  const found = patchBase(cluster);
  if ('error' in found) return sendError(reply, found.status, found.error);
  const current = found.base;
  const result = validatePatchedConfig(mergeDynamicConfig(current, body), body);
  // Every problem of the merged result is reported, also one already stored (e.g. a key set with
  // etcdctl): the operator can remove it in the same PATCH with `"key": null`.
  if (!result.ok) return invalid(reply, result.problems);
  logWarnings(ctx, result.warnings);
  if (!isDeepStrictEqual(result.config, current)) {
    const failed = await writeConfig(ctx, reply, result.config, found.modRevision);
    if (failed) return failed;
    ctx.log.info({ keys: Object.keys(body) }, 'dynamic configuration patched');
  }
  return reply.code(200).send(result.config);
}

async function putConfig(ctx: ApiContext, body: JsonObject, reply: FastifyReply): Promise<FastifyReply> {
  const result = validateDynamicConfig(body);
  if (!result.ok) return invalid(reply, result.problems);
  logWarnings(ctx, result.warnings);
  const failed = await writeConfig(ctx, reply, result.config, null);
  if (failed) return failed;
  ctx.log.info({ keys: Object.keys(body) }, 'dynamic configuration replaced');
  return reply.code(200).send(result.config);
}

export function registerConfigRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get('/cluster', async (_request, reply) => {
    const view = await viewForRead(ctx, reply);
    if (!view) return sendError(reply, 503, NO_VIEW);
    return reply.code(200).send(clusterJson(view, ctx.deps.config.scope));
  });
  app.get('/history', async (_request, reply) => {
    const view = await viewForRead(ctx, reply);
    if (!view) return sendError(reply, 503, NO_VIEW);
    return reply.code(200).send(historyJson(view.history?.value ?? []));
  });
  app.get('/config', async (_request, reply) => {
    const view = await viewForRead(ctx, reply);
    if (!view) return sendError(reply, 503, NO_VIEW);
    // A stored value that cannot be decoded is shown as stored (the loop keeps the last valid one
    // in force): that is what an operator has to repair.
    const undecodable = view.invalid.find((b) => b.key === 'config' && b.refusedKey === undefined && b.unknownKeys === undefined);
    if (undecodable && view.configStored) {
      const stored = storedObject(view.configStored.value);
      if (typeof stored === 'string') return sendError(reply, 502, `the configuration in etcd cannot be decoded: ${stored}; replace it with PUT /config`);
      return reply.code(200).header('x-config-invalid', 'true').send(stored);
    }
    if (!view.config) return sendError(reply, 502, 'there is no configuration in etcd');
    return reply.code(200).send(view.config.value);
  });
  app.patch('/config', { onRequest: ctx.guard, schema: { body: CONFIG_BODY_SCHEMA } }, (request, reply) =>
    patchConfig(ctx, request.body as JsonObject, reply));
  app.put('/config', { onRequest: ctx.guard, schema: { body: CONFIG_BODY_SCHEMA } }, (request, reply) =>
    putConfig(ctx, request.body as JsonObject, reply));
}
