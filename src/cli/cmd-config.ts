// show-config, edit-config and history: the dynamic configuration and timeline history in etcd.
// Changes go through PATCH /config on a member (which validates and writes with a compare on
// the key's mod_revision), carrying only what the operator changed.
import { readFile } from 'node:fs/promises';
import { parseDocument } from 'yaml';
import type { ClusterView } from '../core/cluster.js';
import { mergeDynamicConfig, storedPatchBase, validatePatchedConfig } from '../config/dynamic-stored.js';
import { formatProblem } from '../config/errors.js';
import { formatLsn } from '../core/lsn.js';
import { callAnyMember, readCluster } from './cluster.js';
import type { CtlContext } from './context.js';
import { diffLines, mergePatch, renderDiff, sortKeys } from './diff.js';
import { EXIT_OK, failed, refused, usage } from './errors.js';
import { answerMessage } from './http.js';
import { confirm } from './prompt.js';
import { renderData, renderTable, renderYaml } from './render.js';

type Json = Record<string, unknown>;

/**
 * The configuration to show and edit: the decoded value, or the stored JSON when it cannot be
 * decoded (the agents keep their last valid one in force; issue 13), so edit-config can repair it.
 */
function currentConfig(ctx: CtlContext, cluster: ClusterView): Json {
  if (cluster.config) return structuredClone(cluster.config.value) as Json;
  const stored = cluster.configStored;
  if (!stored) throw refused('there is no configuration in etcd yet', 'the leader writes it from bootstrap.dcs once the cluster is initialized');
  let parsed: unknown;
  try {
    parsed = JSON.parse(stored.value);
  } catch {
    parsed = undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw refused('the configuration in etcd is not a JSON object',
      "replace it with PUT /config on a member: curl -X PUT -H 'Content-Type: application/json' --data @config.json http://<member>:8008/config");
  }
  const why = cluster.invalid.find((b) => b.key === 'config')?.reason ?? 'invalid';
  ctx.io.err(`Warning: the configuration in etcd cannot be decoded (${why}); the agents keep their last valid one in force. Shown as stored.\n`);
  return storedPatchBase(parsed as Json);
}

export async function runShowConfig(ctx: CtlContext): Promise<number> {
  const cluster = await readCluster(ctx);
  const current = currentConfig(ctx, cluster);
  ctx.io.out(ctx.format === 'json' ? renderData('json', current) : renderYaml(current));
  return EXIT_OK;
}

export async function runHistory(ctx: CtlContext): Promise<number> {
  const cluster = await readCluster(ctx);
  const entries = cluster.history?.value ?? [];
  if (ctx.format !== 'table') {
    ctx.io.out(renderData(ctx.format, entries.map((e) => ({
      timeline: e.timeline, switch_lsn: e.switchLsn, switch_lsn_text: formatLsn(e.switchLsn), reason: e.reason,
      timestamp: e.timestamp ?? null, new_leader: e.newLeader ?? null,
    }))));
    return EXIT_OK;
  }
  const rows = entries.map((e) => [String(e.timeline), formatLsn(e.switchLsn), e.reason, e.timestamp ?? '', e.newLeader ?? '']);
  ctx.io.out(renderTable({ columns: ['TL', 'LSN', 'Reason', 'Timestamp', 'New Leader'], rows, right: ['TL', 'LSN'] }));
  return EXIT_OK;
}

/** "a.b.c=value": the value is YAML (8MB stays a string, 5 a number, true a boolean, null deletes). */
export function parseSetting(text: string, prefix: readonly string[] = []): { path: string[]; value: unknown } {
  const eq = text.indexOf('=');
  if (eq <= 0) throw usage(`--set/--pg needs key=value, got "${text}"`, 'e.g. --set loop_wait=5 or --pg work_mem=8MB');
  const path = [...prefix, ...text.slice(0, eq).split('.')];
  if (path.some((p) => p.trim() === '')) throw usage(`"${text.slice(0, eq)}" is not a key path (empty segment)`);
  const raw = text.slice(eq + 1);
  const doc = parseDocument(raw, { version: '1.1' });
  const value = raw.trim() === '' ? null : doc.errors.length > 0 ? raw : doc.toJS();
  return { path, value };
}

function setPath(target: Json, path: readonly string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[key] = {};
    node = node[key] as Json;
  }
  const last = path[path.length - 1]!;
  if (value === null) delete node[last];
  else node[last] = value;
}

function parseYamlDoc(text: string, what: string): Json {
  const doc = parseDocument(text, { version: '1.1' });
  if (doc.errors.length > 0) throw usage(`${what} is not valid YAML: ${doc.errors[0]?.message.split('\n')[0] ?? ''}`);
  const value: unknown = doc.toJS();
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw usage(`${what} must be a YAML mapping`);
  return value as Json;
}

export interface EditConfigOptions {
  readonly set: readonly string[];
  readonly pg: readonly string[];
  /** A YAML file (or "-" for stdin) merged into the config (JSON merge patch, null deletes). */
  readonly apply?: string;
  /** A YAML file (or "-") that replaces the whole config. */
  readonly replace?: string;
  readonly force: boolean;
  readonly readStdin: () => Promise<string>;
}

async function readSource(opts: EditConfigOptions, file: string): Promise<string> {
  if (file === '-') return opts.readStdin();
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw usage(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

/** The config as the operator wants it, before validation. */
async function desiredConfig(ctx: CtlContext, current: Json, opts: EditConfigOptions): Promise<Json> {
  let next: Json = structuredClone(current);
  if (opts.replace !== undefined) next = parseYamlDoc(await readSource(opts, opts.replace), opts.replace);
  if (opts.apply !== undefined) next = mergeDynamicConfig(next, parseYamlDoc(await readSource(opts, opts.apply), opts.apply));
  for (const s of opts.set) {
    const { path, value } = parseSetting(s);
    setPath(next, path, value);
  }
  for (const s of opts.pg) {
    const { path, value } = parseSetting(s, ['postgresql', 'parameters']);
    setPath(next, path, value);
  }
  const noFlags = opts.set.length === 0 && opts.pg.length === 0 && opts.apply === undefined && opts.replace === undefined;
  if (!noFlags) return next;
  if (!ctx.edit || !ctx.io.interactive) {
    throw usage('nothing to change: give --set key=value, --pg name=value, --apply FILE or --replace FILE',
      'without them edit-config opens $EDITOR, which needs a terminal');
  }
  return parseYamlDoc(await ctx.edit(renderYaml(sortKeys(current))), 'the edited configuration');
}

export async function runEditConfig(ctx: CtlContext, opts: EditConfigOptions): Promise<number> {
  const cluster = await readCluster(ctx);
  const current = currentConfig(ctx, cluster);
  const next = await desiredConfig(ctx, current, opts);
  // Keys a newer version stored and the edit leaves alone stay (the agent does the same).
  const checked = validatePatchedConfig(next, mergePatch(current, next));
  if (!checked.ok) {
    throw refused(`the new configuration is invalid: ${checked.problems.map(formatProblem).join('; ')}`, 'nothing was changed');
  }
  // Accepted with a note: timing adjusted as Patroni does, keys the agent ignores.
  for (const w of checked.warnings) ctx.io.err(`Warning: ${formatProblem(w)}\n`);
  const patch = mergePatch(current, next);
  if (Object.keys(patch).length === 0) {
    ctx.io.err('Not changed\n');
    return EXIT_OK;
  }
  const lines = diffLines(renderYaml(sortKeys(current)).trimEnd().split('\n'), renderYaml(sortKeys(next)).trimEnd().split('\n'));
  ctx.io.out(renderDiff(lines));
  await confirm(ctx, 'Apply these changes?', opts.force);
  const { member, answer } = await callAnyMember(ctx, cluster, 'PATCH', '/config', { body: patch });
  if (answer.status === 409) {
    throw failed(`the configuration changed in etcd while it was being edited (${member.name}: ${answerMessage(answer)})`, 'run edit-config again');
  }
  if (answer.status !== 200) throw failed(`${member.name} did not apply the configuration: ${answerMessage(answer)} (HTTP ${answer.status})`);
  ctx.io.err('Configuration changed\n');
  return EXIT_OK;
}
