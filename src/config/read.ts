// Typed reads from raw data that walk() has already type-checked: a value of the wrong type
// reads as undefined here, because its problem is already on record.
import { isPlainObject } from './walk.js';

export type Raw = Record<string, unknown>;

export function obj(o: Raw | undefined, key: string): Raw | undefined {
  const v = o?.[key];
  return isPlainObject(v) ? v : undefined;
}

export function str(o: Raw | undefined, key: string): string | undefined {
  const v = o?.[key];
  return typeof v === 'string' ? v : undefined;
}

export function num(o: Raw | undefined, key: string): number | undefined {
  const v = o?.[key];
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

export function bool(o: Raw | undefined, key: string): boolean | undefined {
  const v = o?.[key];
  return typeof v === 'boolean' ? v : undefined;
}

export function strList(o: Raw | undefined, key: string): string[] | undefined {
  const v = o?.[key];
  return Array.isArray(v) && v.every((x) => typeof x === 'string') ? [...(v as string[])] : undefined;
}

export function has(o: Raw | undefined, key: string): boolean {
  return o !== undefined && o[key] !== undefined && o[key] !== null;
}

/** Scalar map (parameters, user tags) without nulls. */
export function scalarMap(o: Raw | undefined): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const [k, v] of Object.entries(o ?? {})) {
    if (typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v))) out[k] = v;
  }
  return out;
}

export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
