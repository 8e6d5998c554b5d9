// The one registry of configuration keys (issue 22): every key the agent knows has exactly one
// status. acted: the agent (or agentctl) does what the key says. ignored: accepted with a warning
// naming it, only where dropping it changes nothing an operator relies on. refused: a start-up
// error for local keys, a 400 from PATCH/PUT /config and edit-config for dynamic ones, and a
// report (not a stop) when etcd's stored `config` holds it. A change that builds a refused
// feature moves its key to acted in the same commit.
import { joinPath, type ConfigProblem, type ProblemSink } from './errors.js';
import { schemaPaths, type SectionSpec } from './schema.js';
import { isPlainObject } from './walk.js';

export type KeyStatus = 'acted' | 'ignored' | 'refused';

export interface KeyInfo {
  readonly status: KeyStatus;
  /** The pg-ha-agent version that gave the key this status. */
  readonly since: string;
  /** acted: what it does; ignored: why dropping it changes nothing; refused: what it would do. */
  readonly text: string;
  /** refused: what to do instead. Absent for keys that will not be built (other DCSs, ...). */
  readonly instead?: string;
  /** Only values for which this holds are refused (or warned about); default: any value set. */
  readonly when?: Cond;
}

/** A value condition with its words for the docs table ("true", "non-empty", ...). */
export interface Cond {
  readonly test: (value: unknown) => boolean;
  readonly text: string;
}

export type Registry = Readonly<Record<string, KeyInfo>>;

export const acted = (since: string, text: string): KeyInfo => ({ status: 'acted', since, text });

export const ignored = (since: string, text: string, when?: Cond): KeyInfo =>
  (when ? { status: 'ignored', since, text, when } : { status: 'ignored', since, text });

/** A key whose feature is not built yet: `text` says what it would do, `instead` the way out. */
export const refusedYet = (since: string, text: string, instead: string, when?: Cond): KeyInfo =>
  (when ? { status: 'refused', since, text, instead, when } : { status: 'refused', since, text, instead });

/** A key the product will not support (another DCS, an old spelling): `text` is the whole story. */
export const refusedFor = (since: string, text: string): KeyInfo => ({ status: 'refused', since, text });

/** The problem text of a refused key. */
export function refusalMessage(info: KeyInfo): string {
  return info.instead === undefined ? `not supported: ${info.text}` : `not supported yet: ${info.text}; ${info.instead}`;
}

/** Value predicates shared by the registries: "off" values of refused features stay accepted. */
export const isTrue: Cond = { test: (v) => v === true, text: 'true' };
export const notFalse: Cond = { test: (v) => v !== false, text: 'anything but false' };
export const nonEmpty: Cond = {
  test: (v) => !(isPlainObject(v) && Object.keys(v).length === 0) && !(Array.isArray(v) && v.length === 0) && v !== '',
  text: 'non-empty',
};
export const differs = (dflt: unknown): Cond => ({ test: (v) => v !== dflt, text: `other than ${JSON.stringify(dflt)}` });

/** Registry entries for keys the schema does not list: the walker's ignored/unsupported rules (path -> message). */
export function walkRules(registry: Registry, schema: SectionSpec): { ignored: Record<string, string>; unsupported: Record<string, string> } {
  const inSchema = new Set(schemaPaths(schema));
  const ignoredKeys: Record<string, string> = {};
  const unsupported: Record<string, string> = {};
  for (const [path, info] of Object.entries(registry)) {
    if (inSchema.has(path)) continue;
    if (info.status === 'ignored') ignoredKeys[path] = info.text;
    if (info.status === 'refused') unsupported[path] = refusalMessage(info);
  }
  return { ignored: ignoredKeys, unsupported };
}

function valueAt(raw: unknown, path: string): unknown {
  let node: unknown = raw;
  for (const key of path.split('.')) {
    if (!isPlainObject(node)) return undefined;
    node = node[key];
  }
  return node;
}

/**
 * The registry's verdict on the keys the schema lists (the walker handles the others): refused
 * values in `refused`, ignored ones in `ignored`. Paths start with `prefix`.
 */
export function registryFindings(raw: unknown, registry: Registry, schema: SectionSpec, prefix: string): { refused: ConfigProblem[]; ignored: ConfigProblem[] } {
  const inSchema = new Set(schemaPaths(schema));
  const out = { refused: [] as ConfigProblem[], ignored: [] as ConfigProblem[] };
  for (const [path, info] of Object.entries(registry)) {
    if (info.status === 'acted' || !inSchema.has(path)) continue;
    const v = valueAt(raw, path);
    if (v === undefined || v === null || (info.when !== undefined && !info.when.test(v))) continue;
    if (info.status === 'refused') out.refused.push({ path: joinPath(prefix, path), message: refusalMessage(info) });
    else out.ignored.push({ path: joinPath(prefix, path), message: `accepted and ignored: ${info.text}` });
  }
  return out;
}

/** Pushes the registry's findings into `sink`: refusals as problems, ignored keys as warnings. */
export function checkRegistry(raw: unknown, registry: Registry, schema: SectionSpec, prefix: string, sink: ProblemSink): void {
  const found = registryFindings(raw, registry, schema, prefix);
  for (const p of found.refused) sink.problem(p.path, p.message);
  for (const w of found.ignored) sink.warn(w.path, w.message);
}

/** The registry entry that decides `path` (its own, else its nearest ancestor's). */
export function statusOf(registry: Registry, path: string): KeyInfo | undefined {
  for (let p = path; p !== ''; p = p.includes('.') ? p.slice(0, p.lastIndexOf('.')) : '') {
    if (Object.hasOwn(registry, p)) return registry[p];
  }
  return undefined;
}
