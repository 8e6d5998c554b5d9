// Environment overrides: PGHA_<SECTION>_<KEY> for every key of the schema, plus Patroni's
// PATRONI_* names (ENVIRONMENT.rst) for the same keys; PGHA_* wins. Values are parsed by the
// type of the key they set, so PGHA_TAGS_NOFAILOVER=true is a boolean.
import type { ProblemSink } from './errors.js';
import { IGNORED_KEYS, UNSUPPORTED_KEYS } from './keys.js';
import { LOCAL_SCHEMA, type LeafSpec, type SectionSpec, type Spec } from './schema.js';
import { closestKey } from './suggest.js';
import { isPlainObject } from './walk.js';
import { parseYamlValue } from './yaml.js';

interface Target {
  readonly path: readonly string[];
  readonly leaf: LeafSpec;
}

/** Variables that name the config file or a whole config, not a key. */
const NOT_KEYS = new Set(['PGHA_CONFIG', 'PATRONI_CONFIGURATION']);
const ANY: LeafSpec = { kind: 'leaf', type: 'any' };
const CREDENTIAL_USERS = ['replication', 'superuser', 'rewind'];

function special(lower: string): readonly string[] | undefined {
  if (lower === 'loglevel') return ['log', 'level'];
  if (lower === 'logformat') return ['log', 'format'];
  if (lower === 'log_datefmt') return ['log', 'dateformat'];
  const rest = /^restapi_(username|password)$/.exec(lower);
  if (rest) return ['restapi', 'authentication', rest[1]!];
  const cred = /^([a-z]+)_(.+)$/.exec(lower);
  if (cred && CREDENTIAL_USERS.includes(cred[1]!)) return ['postgresql', 'authentication', cred[1]!, cred[2]!];
  // Patroni's etcd (v2) section: mapped so the loader can say "use etcd3" instead of nothing.
  const v2 = /^etcd_(.+)$/.exec(lower);
  if (v2) return ['etcd', v2[1]!];
  return undefined;
}

function specAt(path: readonly string[]): Spec | undefined {
  let spec: Spec = LOCAL_SCHEMA;
  for (const key of path) {
    const section: SectionSpec | undefined = spec.kind === 'section' ? spec : spec.kind === 'delegate' ? spec.target : undefined;
    if (section === undefined) return undefined;
    const next: Spec | undefined = Object.hasOwn(section.keys, key) ? section.keys[key] : section.open;
    if (next === undefined) return undefined;
    spec = next;
  }
  return spec;
}

function descend(section: SectionSpec, rest: string, path: string[]): Target | undefined {
  for (const [key, child] of Object.entries(section.keys)) {
    if (rest === key && child.kind === 'leaf') return { path: [...path, key], leaf: child };
    if (rest.startsWith(`${key}_`)) {
      const inner = child.kind === 'section' ? child : child.kind === 'delegate' ? child.target : undefined;
      const hit = inner === undefined ? undefined : descend(inner, rest.slice(key.length + 1), [...path, key]);
      if (hit !== undefined) return hit;
    }
  }
  if (section.open?.kind === 'leaf' && rest !== '') return { path: [...path, rest], leaf: section.open };
  return undefined;
}

/** Maps the part after PGHA_/PATRONI_ to a key path, or undefined when it names no key. */
export function envTarget(suffix: string): Target | undefined {
  const lower = suffix.toLowerCase();
  const fixed = special(lower);
  if (fixed !== undefined) {
    const spec = specAt(fixed);
    return { path: fixed, leaf: spec?.kind === 'leaf' ? spec : ANY };
  }
  for (const key of [...Object.keys(IGNORED_KEYS), ...Object.keys(UNSUPPORTED_KEYS)]) {
    if (key.replace(/\./g, '_') === lower) return { path: key.split('.'), leaf: ANY };
  }
  return descend(LOCAL_SCHEMA, lower, []);
}

function parseList(text: string): unknown {
  const t = text.trim();
  if (t.startsWith('[') || t.startsWith('-')) {
    const parsed = parseYamlValue(t);
    return parsed.ok ? parsed.value : undefined;
  }
  return t.split(',').map((s) => s.trim()).filter((s) => s !== '');
}

function parseBool(text: string): boolean | undefined {
  const t = text.trim().toLowerCase();
  if (['true', 'yes', 'on', '1'].includes(t)) return true;
  if (['false', 'no', 'off', '0'].includes(t)) return false;
  return undefined;
}

/** Converts an env string to the key's type; undefined when it cannot be. */
export function envValue(leaf: LeafSpec, text: string): unknown {
  switch (leaf.type) {
    case 'string':
    case 'scalar':
      return text;
    case 'boolean':
      return parseBool(text);
    case 'integer':
      return /^-?\d+$/.test(text.trim()) ? Number(text.trim()) : undefined;
    case 'number':
      return text.trim() !== '' && Number.isFinite(Number(text)) ? Number(text) : undefined;
    case 'string-list':
    case 'string-or-list':
      return parseList(text);
    case 'any': {
      const parsed = parseYamlValue(text);
      return parsed.ok ? parsed.value : text;
    }
    default: {
      const never: never = leaf.type;
      return never;
    }
  }
}

function setPath(root: Record<string, unknown>, path: readonly string[], value: unknown): boolean {
  let node = root;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (next === undefined || next === null) node[key] = {};
    else if (!isPlainObject(next)) return false; // the walker reports the file's wrong type
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1]!] = value;
  return true;
}

function apply(root: Record<string, unknown>, name: string, suffix: string, text: string, sink: ProblemSink): void {
  const target = envTarget(suffix);
  if (target === undefined) {
    if (name.startsWith('PGHA_')) {
      const hint = closestKey(suffix.toLowerCase(), ['name', 'scope', 'namespace', 'etcd3_hosts', 'postgresql_data_dir', 'restapi_listen']);
      sink.warn(name, `ignored: names no configuration key${hint === undefined ? '' : `; did you mean PGHA_${hint.toUpperCase()}?`}`);
    }
    return;
  }
  const value = envValue(target.leaf, text);
  if (value === undefined) {
    const shown = target.leaf.secret === true || /password/i.test(name) ? '' : ` "${text.length > 40 ? `${text.slice(0, 37)}...` : text}"`;
    sink.problem(name, `cannot be read as ${target.leaf.type === 'boolean' ? 'a boolean (true/false)' : `a value of type ${target.leaf.type}`}:${shown || ' (value hidden)'}`);
    return;
  }
  if (setPath(root, target.path, value)) sink.origins.set(target.path.join('.'), name);
}

/** Returns a copy of `raw` with PATRONI_* then PGHA_* overrides applied. */
export function applyEnvOverrides(raw: Record<string, unknown>, env: NodeJS.ProcessEnv, sink: ProblemSink): Record<string, unknown> {
  const root = structuredClone(raw);
  const names = Object.keys(env).sort();
  for (const prefix of ['PATRONI_', 'PGHA_']) {
    for (const name of names) {
      const text = env[name];
      if (!name.startsWith(prefix) || text === undefined || text === '' || NOT_KEYS.has(name)) continue;
      apply(root, name, name.slice(prefix.length), text, sink);
    }
  }
  if (env['PATRONI_CONFIGURATION'] !== undefined) sink.warn('PATRONI_CONFIGURATION', 'ignored: the configuration is read from the file');
  return root;
}
