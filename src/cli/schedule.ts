// --scheduled values: ISO 8601 with a zone (2026-05-01T03:00:00+02:00 or ...Z), ISO without a zone
// (local time, as patronictl reads it), a relative "+30s" / "+5m" / "+2h", or "now".
import { parseZonedTimestamp } from '../api/units.js';
import { usage } from './errors.js';

/** Epoch ms, or null for "now". Throws a usage error for anything else or a time in the past. */
export function parseSchedule(text: string, nowMs: number): number | null {
  const t = text.trim();
  if (t === '' || t.toLowerCase() === 'now') return null;
  const rel = /^\+(\d+(?:\.\d+)?)\s*(s|sec|m|min|h)?$/i.exec(t);
  let at: number;
  if (rel) {
    const unit = (rel[2] ?? 's').toLowerCase();
    const factor = unit.startsWith('h') ? 3_600_000 : unit.startsWith('m') ? 60_000 : 1000;
    at = nowMs + Number(rel[1]) * factor;
  } else {
    const zoned = parseZonedTimestamp('--scheduled', t);
    if (zoned.ok) {
      at = zoned.value;
    } else {
      // No zone: check the fields through the same parser, then read them as local time.
      const asUtc = parseZonedTimestamp('--scheduled', `${t}Z`);
      if (!asUtc.ok) throw usage(`--scheduled: cannot read "${text}" as a time`, 'use ISO 8601, e.g. 2026-05-01T03:00:00+02:00, or +30s / +5m, or now');
      const d = new Date(asUtc.value);
      at = new Date(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), d.getUTCMilliseconds()).getTime();
    }
  }
  if (at < nowMs) throw usage(`--scheduled: ${new Date(at).toISOString()} is in the past`);
  return Math.round(at);
}
