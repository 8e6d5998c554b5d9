// Query-string and body value parsers shared by the routes. Each returns a value or an error
// sentence naming what is wrong; nothing here throws.

export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: string };

const SIZE_UNITS: Readonly<Record<string, number>> = {
  b: 1,
  kb: 1024,
  mb: 1024 ** 2,
  gb: 1024 ** 3,
  tb: 1024 ** 4,
};

/**
 * A byte count as `?lag=` takes it: plain bytes (`1048576`) or a number with a PostgreSQL size unit
 * (`16MB`, `512kB`, `1.5GB`). Units are matched case-insensitively.
 */
export function parseByteSize(what: string, text: string): Parsed<number> {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$/.exec(text);
  const unit = m?.[2] ?? '';
  const factor = unit === '' ? 1 : SIZE_UNITS[unit.toLowerCase()];
  if (!m || m[1] === undefined || factor === undefined) {
    return {
      ok: false,
      error: `${what} must be a number of bytes or a size with a unit B, kB, MB, GB or TB (e.g. 16MB), got '${text}'`,
    };
  }
  return { ok: true, value: Math.round(Number(m[1]) * factor) };
}

const ISO_RE = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

/**
 * ISO 8601 timestamp with an explicit time zone (`Z` or `+hh:mm`), as Patroni's scheduled_at and
 * patronictl's `--scheduled` produce. Returns epoch ms. Calendar fields are range-checked, so
 * `2024-02-30` is an error rather than March 1st.
 */
export function parseZonedTimestamp(what: string, text: string): Parsed<number> {
  const m = ISO_RE.exec(text.trim());
  const unparsable: Parsed<number> = {
    ok: false,
    error: `Unable to parse scheduled timestamp. It should be in an unambiguous format, e.g. ISO 8601 (${what}: '${text}')`,
  };
  if (!m) return unparsable;
  const [year, month, day, hour, minute, second] = [1, 2, 3, 4, 5, 6].map((i) => Number(m[i] ?? 0)) as
    [number, number, number, number, number, number];
  const fracMs = m[7] === undefined ? 0 : Number(`0.${m[7]}`) * 1000;
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth || hour > 23 || minute > 59 || second > 59) {
    return unparsable;
  }
  const tz = m[8];
  if (tz === undefined) return { ok: false, error: `Timezone information is mandatory for the ${what}` };
  const offsetMin = tz.toUpperCase() === 'Z' ? 0 : tzOffsetMinutes(tz);
  const utcMs = Date.UTC(year, month - 1, day, hour, minute, second) + fracMs - offsetMin * 60_000;
  return { ok: true, value: Math.round(utcMs) };
}

function tzOffsetMinutes(tz: string): number {
  const sign = tz.startsWith('-') ? -1 : 1;
  const digits = tz.slice(1).replace(':', '');
  return sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2) || '0'));
}
