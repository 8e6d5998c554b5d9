// Values as Patroni reads them (SPEC 2, issue 23): Patroni parses booleans and numbers with
// parse_bool/parse_int, so `nofailover: "true"`, `failover_priority: "1"` or `ttl: "30"` (as
// templating and environment variables produce them) mean what they say. Strings at boolean,
// integer and number keys are converted here, before the type check; a string that does not
// parse is left for the walker to report.
import { envValue } from './env.js';
import type { SectionSpec, Spec } from './schema.js';
import { isPlainObject } from './walk.js';

function coerceLeaf(spec: Spec, value: unknown): unknown {
  if (spec.kind !== 'leaf' || typeof value !== 'string') return value;
  if (spec.type !== 'boolean' && spec.type !== 'integer' && spec.type !== 'number') return value;
  return envValue(spec, value) ?? value;
}

/** A copy of `raw` with parseable strings at typed keys of `spec` converted; delegates are left to their own pass. */
export function coerceStrings(raw: Record<string, unknown>, spec: SectionSpec): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    const child = Object.hasOwn(spec.keys, key) ? spec.keys[key] : undefined;
    if (child === undefined) out[key] = value;
    else if (child.kind === 'section') out[key] = isPlainObject(value) ? coerceStrings(value, child) : value;
    else out[key] = coerceLeaf(child, value);
  }
  return out;
}
