// Small helpers shared by the key codecs. Decoding never throws: a malformed value becomes an
// `invalid` result carrying a reason, which the snapshot logs together with the key.

export type Decoded<T> =
  | {
    readonly ok: true;
    readonly value: T;
    readonly refused?: readonly { readonly path: string; readonly message: string }[];
    /** Keys kept as given and acted on by nobody (config; issue 13). */
    readonly unknown?: readonly string[];
  }
  | { readonly ok: false; readonly reason: string };

export function ok<T>(value: T): Decoded<T> {
  return { ok: true, value };
}

export function invalid<T>(reason: string): Decoded<T> {
  return { ok: false, reason };
}

export type JsonRecord = Record<string, unknown>;

export function isRecord(value: unknown): value is JsonRecord {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function parseJson(text: string): Decoded<unknown> {
  try {
    return ok(JSON.parse(text) as unknown);
  } catch (err) {
    return invalid(`not JSON: ${(err as Error).message}`);
  }
}

/** Compact JSON, as Patroni writes it (json.dumps(..., separators=(',', ':'))). */
export function compactJson(value: unknown): string {
  return JSON.stringify(value);
}

/**
 * Patroni stores LSNs and counters as integers but parses them leniently (parse_int), so a
 * numeric string is accepted too. Returns undefined for absent/null, null for a bad value.
 */
export function intField(obj: JsonRecord, key: string): number | undefined | null {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'number') return Number.isSafeInteger(v) ? v : null;
  if (typeof v === 'string' && /^-?\d+$/.test(v.trim())) {
    const n = Number(v.trim());
    return Number.isSafeInteger(n) ? n : null;
  }
  return null;
}

/** Patroni's parse_bool accepts booleans and the usual words. */
export function boolField(obj: JsonRecord, key: string): boolean | undefined | null {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0;
  if (typeof v === 'string') {
    const s = v.trim().toLowerCase();
    if (['true', 'on', 'yes', '1'].includes(s)) return true;
    if (['false', 'off', 'no', '0'].includes(s)) return false;
  }
  return null;
}

export function stringField(obj: JsonRecord, key: string): string | undefined | null {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  return typeof v === 'string' ? v : null;
}

/**
 * Collects the first problem while reading typed fields, so each codec reads as a straight list
 * of fields instead of a ladder of early returns.
 */
export class FieldReader {
  problem: string | null = null;
  constructor(private readonly obj: JsonRecord) {}

  int(key: string): number | undefined {
    const v = intField(this.obj, key);
    if (v === null) this.fail(`${key} is not an integer`);
    return v ?? undefined;
  }

  bool(key: string): boolean | undefined {
    const v = boolField(this.obj, key);
    if (v === null) this.fail(`${key} is not a boolean`);
    return v ?? undefined;
  }

  str(key: string): string | undefined {
    const v = stringField(this.obj, key);
    if (v === null) this.fail(`${key} is not a string`);
    return v ?? undefined;
  }

  fail(reason: string): void {
    this.problem ??= reason;
  }
}

/** Copies only the defined entries, so exactOptionalPropertyTypes holds for optional fields. */
export function defined<T extends object>(obj: { [K in keyof T]: T[K] | undefined }): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) if (v !== undefined) out[k] = v;
  return out as T;
}
