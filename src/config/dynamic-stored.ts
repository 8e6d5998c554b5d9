// etcd's stored `config` and patches of it: reading a value written by Patroni or a newer agent
// (refused keys left out, unknown keys kept), and PATCH /config's JSON merge patch and validation.
import { normalizedDynamic, validateDynamicConfig, type DynamicResult } from './dynamic.js';
import type { ConfigProblem } from './errors.js';
import { DYNAMIC_UNSUPPORTED_KEYS } from './keys.js';
import { deepFreeze, type Raw } from './read.js';
import { DYNAMIC_REGISTRY } from './registry-dynamic.js';
import { registryFindings } from './registry.js';
import { DYNAMIC_SCHEMA } from './schema.js';
import type { DynamicConfig } from './types.js';
import { isPlainObject } from './walk.js';

export type StoredResult =
  | {
    readonly ok: true;
    readonly config: DynamicConfig;
    readonly refused: readonly ConfigProblem[];
    /** Keys this version does not know: kept in `config` as given, acted on by nobody. */
    readonly unknown: readonly string[];
  }
  | { readonly ok: false; readonly problems: readonly ConfigProblem[] };

/** The refused keys `input` holds: values the registry refuses and refused keys the schema lacks. */
export function refusedDynamicKeys(input: unknown): ConfigProblem[] {
  const found = registryFindings(input, DYNAMIC_REGISTRY, DYNAMIC_SCHEMA, '').refused;
  const raw = isPlainObject(input) ? input : {};
  for (const [path, message] of Object.entries(DYNAMIC_UNSUPPORTED_KEYS)) {
    const [head, tail] = path.split('.', 2) as [string, string | undefined];
    const parent = tail === undefined ? raw : raw[head];
    if (isPlainObject(parent) && Object.hasOwn(parent, tail ?? head)) found.push({ path, message });
  }
  return found;
}

function withoutPaths(input: Raw, paths: readonly string[]): Raw {
  const out = structuredClone(input);
  for (const path of paths) {
    const parts = path.split('.');
    let node: unknown = out;
    for (const key of parts.slice(0, -1)) node = isPlainObject(node) ? node[key] : undefined;
    if (isPlainObject(node)) delete node[parts[parts.length - 1]!];
  }
  return out;
}

function valueAt(input: unknown, path: string): unknown {
  let node: unknown = input;
  for (const key of path.split('.')) node = isPlainObject(node) ? node[key] : undefined;
  return node;
}

/** `config` with the given raw values put back at their paths (parents that are mappings only). */
function withValues(config: DynamicConfig, source: unknown, paths: readonly string[]): DynamicConfig {
  if (paths.length === 0) return config;
  const out = structuredClone(config) as unknown as Raw;
  for (const path of paths) {
    const parts = path.split('.');
    let node: unknown = out;
    for (const key of parts.slice(0, -1)) {
      if (!isPlainObject(node)) break;
      node[key] ??= {};
      node = node[key];
    }
    if (isPlainObject(node)) node[parts[parts.length - 1]!] = structuredClone(valueAt(source, path));
  }
  return deepFreeze(out) as unknown as DynamicConfig;
}

/** Problems that only say a key is unknown: forward compatible when the value came from etcd. */
export function isUnknownKeyProblem(p: ConfigProblem): boolean {
  return p.message.startsWith('unknown key');
}

/**
 * etcd's stored `config`, possibly written by Patroni or a newer agent. A refused key must not stop
 * a running cluster, so it is left out (its feature stays off) and returned in `refused` for the
 * caller to report. A key this version does not know is kept as given and returned in `unknown`
 * (issue 13): dropping the whole value for it would silently end a pause and turn settings back to
 * bootstrap.dcs on every node. Any other problem makes the whole value invalid.
 */
export function readStoredDynamicConfig(given: unknown): StoredResult {
  const input = normalizedDynamic(given);
  const refused = refusedDynamicKeys(input);
  const kept = isPlainObject(input) && refused.length > 0 ? withoutPaths(input, refused.map((p) => p.path)) : input;
  const first = validateDynamicConfig(kept);
  if (first.ok) return { ok: true, config: first.config, refused, unknown: [] };
  if (!isPlainObject(kept) || !first.problems.every(isUnknownKeyProblem)) return { ok: false, problems: first.problems };
  const unknown = first.problems.map((p) => p.path);
  const known = validateDynamicConfig(withoutPaths(kept, unknown));
  if (!known.ok) return { ok: false, problems: known.problems };
  return { ok: true, config: withValues(known.config, kept, unknown), refused, unknown };
}

/**
 * What PATCH /config merges into when the stored value could not be decoded: the stored JSON
 * without its refused keys (as the decoded value would be), so the operator can repair the rest.
 */
export function storedPatchBase(stored: Raw): Raw {
  const refused = refusedDynamicKeys(stored);
  return refused.length === 0 ? stored : withoutPaths(stored, refused.map((p) => p.path));
}

/**
 * PATCH /config's result: validated as a whole, except that a key this version does not know
 * which the patch did not set is kept as stored (a newer agent wrote it). An unknown key the patch
 * sets is still a problem: most likely a typo.
 */
export function validatePatchedConfig(merged: unknown, patch: unknown): DynamicResult {
  const first = validateDynamicConfig(merged);
  if (first.ok || !isPlainObject(merged)) return first;
  const keptUnknown = first.problems.filter((p) => isUnknownKeyProblem(p) && valueAt(patch, p.path) === undefined).map((p) => p.path);
  if (keptUnknown.length === 0) return first;
  const rest = validateDynamicConfig(withoutPaths(merged, keptUnknown));
  if (!rest.ok) return rest;
  return { ok: true, config: withValues(rest.config, merged, keptUnknown), warnings: rest.warnings };
}

/**
 * RFC 7396 JSON merge patch: objects merge recursively, `null` deletes, anything else replaces.
 * The result is not validated: pass it to validateDynamicConfig.
 */
export function mergeDynamicConfig(base: unknown, patch: unknown): Record<string, unknown> {
  const merged = mergePatch(base, patch);
  if (!isPlainObject(merged)) return {};
  // A patch in Patroni 3's words (master_start_timeout) means that value, not the primary_* the
  // stored config carries (the agent writes every key, defaults included), which would win.
  // A patch that removes master_*_timeout (null) removes the setting, as in Patroni, where the
  // default applies again: the primary_* copy the agent stored next to it (same value) goes too.
  for (const which of ['start', 'stop']) {
    const master = `master_${which}_timeout`;
    const primary = `primary_${which}_timeout`;
    const sets = (key: string): boolean => isPlainObject(patch) && patch[key] !== undefined && patch[key] !== null;
    const clears = isPlainObject(patch) && patch[master] === null && patch[primary] === undefined;
    const copied = isPlainObject(base) && base[master] !== undefined && base[master] === base[primary];
    if ((sets(master) && !sets(primary)) || (clears && copied)) delete merged[primary];
  }
  return merged;
}

function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isPlainObject(patch)) return structuredClone(patch);
  const out: Record<string, unknown> = isPlainObject(target) ? structuredClone(target) : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = mergePatch(out[key], value);
  }
  return out;
}
