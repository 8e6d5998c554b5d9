// config: the dynamic configuration JSON (Patroni's `config` key). Patroni writes only the keys
// the user set; reading validates with the same rules as bootstrap.dcs, PATCH /config and
// edit-config (src/config/dynamic.ts) and fills Patroni's defaults in. A value those rules
// reject is an invalid key (logged, treated as absent), never an exception in the loop; a key
// the agent refuses (synchronous_mode: true, ...) is left out and reported in `notes`, and the
// rest of the config applies (issue 22). A key it does not know is kept and reported (issue 13).
import { readStoredDynamicConfig } from '../config/dynamic-stored.js';
import { formatProblem } from '../config/errors.js';
import type { DynamicConfig } from '../config/types.js';
import { compactJson, invalid, ok, parseJson, type Decoded, type JsonRecord } from './codec-util.js';

export function decodeConfig(text: string): Decoded<DynamicConfig> {
  const parsed = parseJson(text);
  if (!parsed.ok) return parsed;
  const res = readStoredDynamicConfig(parsed.value);
  if (!res.ok) return invalid(res.problems.map(formatProblem).join('; '));
  if (res.refused.length === 0 && res.unknown.length === 0) return ok(res.config);
  return {
    ok: true, value: res.config,
    ...(res.refused.length > 0 ? { refused: res.refused } : {}),
    ...(res.unknown.length > 0 ? { unknown: res.unknown } : {}),
  };
}

export function encodeConfig(config: DynamicConfig): string {
  const out: JsonRecord = { ...config };
  // Patroni writes pause only while paused (resume PATCHes it to null, which deletes it).
  if (out['pause'] !== true) delete out['pause'];
  return compactJson(out);
}
