// Display copy of a config: every password-like value replaced, structure kept.
import { deepFreeze } from './read.js';
import type { Config } from './types.js';
import { isPlainObject } from './walk.js';

export const REDACTED = '*****';

/** Keys whose values are secrets wherever they appear (password, sslpassword, keyfile_password). */
export function isSecretKey(key: string): boolean {
  return /password|passwd|passphrase|secret/i.test(key);
}

function scrub(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(scrub);
  if (!isPlainObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = isSecretKey(k) && v !== undefined && v !== null && !isPlainObject(v) ? REDACTED : scrub(v);
  }
  return out;
}

export function redactConfig(config: Config): Config {
  return deepFreeze(scrub(config) as Config);
}
