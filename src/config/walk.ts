// Walks raw YAML data against the schema: unknown keys (with hints), ignored and unsupported
// keys, and value types. Semantic checks (addresses, ranges, cross-field rules) live in the
// section builders, which can then read values knowing their types were reported already.
import { closestKey, elsewhere } from './suggest.js';
import { joinPath, type ProblemSink } from './errors.js';
import type { LeafSpec, SectionSpec, Spec } from './schema.js';

export interface WalkRules {
  /** Schema path (relative to the walked root) -> why it is ignored. */
  readonly ignored: Readonly<Record<string, string>>;
  /** Schema path -> the whole problem text ("not supported: ..."). */
  readonly unsupported: Readonly<Record<string, string>>;
  /** Warn about ignored keys (local file) or keep them silently (dynamic passthrough). */
  readonly warnIgnored: boolean;
  /** Every known path, prefixed as problems are, for cross-section hints. */
  readonly allPaths: readonly string[];
}

const SECRET_NAME = /password|passwd|passphrase|secret/i;

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function describeValue(v: unknown, secret = false): string {
  const kind = v === null ? 'null' : Array.isArray(v) ? 'a list' : isPlainObject(v) ? 'a mapping' : `a ${typeof v}`;
  if (secret || isPlainObject(v) || Array.isArray(v) || v === null) return kind;
  const text = JSON.stringify(v);
  return `${kind} (${text.length > 40 ? `${text.slice(0, 37)}...` : text})`;
}

const EXPECT: Record<LeafSpec['type'], string> = {
  string: 'a string',
  boolean: 'a boolean (true or false)',
  integer: 'an integer',
  number: 'a number',
  scalar: 'a string, number or boolean',
  'string-list': 'a list of strings',
  'string-or-list': 'a string or a list of strings',
  any: 'a value',
};

export function leafTypeOk(spec: LeafSpec, v: unknown): boolean {
  switch (spec.type) {
    case 'string': return typeof v === 'string';
    case 'boolean': return typeof v === 'boolean';
    case 'integer': return typeof v === 'number' && Number.isInteger(v);
    case 'number': return typeof v === 'number' && Number.isFinite(v);
    case 'scalar': return typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v));
    case 'string-list': return Array.isArray(v) && v.every((x) => typeof x === 'string');
    case 'string-or-list': return typeof v === 'string' || (Array.isArray(v) && v.every((x) => typeof x === 'string'));
    case 'any': return true;
    default: {
      const never: never = spec.type;
      return never;
    }
  }
}

function checkLeaf(value: unknown, spec: LeafSpec, path: string, sink: ProblemSink): void {
  // An empty YAML value means "not set", as in Patroni (`bin_dir:` with nothing after it).
  if (value === null || value === undefined || leafTypeOk(spec, value)) return;
  const secret = spec.secret === true || SECRET_NAME.test(path.slice(path.lastIndexOf('.') + 1));
  sink.problem(path, `expected ${EXPECT[spec.type]}, got ${describeValue(value, secret)}`);
}

function unknownKey(key: string, spec: SectionSpec, path: string, schemaPath: string, rules: WalkRules, sink: ProblemSink): void {
  const prefix = schemaPath === '' ? '' : `${schemaPath}.`;
  const siblings = [
    ...Object.keys(spec.keys),
    ...[...Object.keys(rules.ignored), ...Object.keys(rules.unsupported)]
      .filter((p) => p.startsWith(prefix) && !p.slice(prefix.length).includes('.'))
      .map((p) => p.slice(prefix.length)),
  ];
  // The exact name elsewhere (ttl at the top -> bootstrap.dcs.ttl) beats a near spelling here.
  const parentPath = path.slice(0, Math.max(0, path.length - key.length - 1));
  const guess = elsewhere(key, rules.allPaths, parentPath) ?? closestKey(key, siblings);
  const hint = guess === undefined ? '' : `; did you mean "${guess}"?`;
  sink.problem(path, `unknown key${hint}`);
}

export function walk(value: unknown, spec: Spec, path: string, schemaPath: string, rules: WalkRules, sink: ProblemSink): void {
  if (spec.kind === 'leaf') return checkLeaf(value, spec, path, sink);
  if (spec.kind === 'delegate') return;
  if (value === null || value === undefined) return;
  if (!isPlainObject(value)) {
    // Never echo: a string here may be "user:password".
    sink.problem(path, `expected a mapping, got ${describeValue(value, true)}`);
    return;
  }
  for (const [key, child] of Object.entries(value)) {
    const childPath = joinPath(path, key);
    const childSchema = schemaPath === '' ? key : `${schemaPath}.${key}`;
    const known = Object.hasOwn(spec.keys, key) ? spec.keys[key] : undefined;
    if (known !== undefined) walk(child, known, childPath, childSchema, rules, sink);
    else if (Object.hasOwn(rules.unsupported, childSchema)) sink.problem(childPath, rules.unsupported[childSchema] ?? 'not supported');
    else if (Object.hasOwn(rules.ignored, childSchema)) {
      if (rules.warnIgnored) sink.warn(childPath, `accepted and ignored: ${rules.ignored[childSchema]}`);
    } else if (spec.open !== undefined) walk(child, spec.open, childPath, childSchema, rules, sink);
    else unknownKey(key, spec, childPath, schemaPath, rules, sink);
  }
}
