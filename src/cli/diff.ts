// Line diff for edit-config (what will change, shown before asking) and the JSON merge patch
// that carries exactly those changes to PATCH /config. Pure.
import { isDeepStrictEqual } from 'node:util';

export type DiffLine = { readonly op: ' ' | '-' | '+'; readonly text: string };

/** Longest-common-subsequence diff of two line lists (configs are small: O(n*m) is fine). */
export function diffLines(a: readonly string[], b: readonly string[]): DiffLine[] {
  const n = a.length;
  const m = b.length;
  const lcs: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
    }
  }
  const out: DiffLine[] = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) {
      out.push({ op: ' ', text: a[i]! });
      i++;
      j++;
    } else if (lcs[i + 1]![j]! >= lcs[i]![j + 1]!) {
      out.push({ op: '-', text: a[i++]! });
    } else {
      out.push({ op: '+', text: b[j++]! });
    }
  }
  while (i < n) out.push({ op: '-', text: a[i++]! });
  while (j < m) out.push({ op: '+', text: b[j++]! });
  return out;
}

/** Changed lines with up to `context` unchanged lines around them; "..." marks skipped runs. */
export function renderDiff(lines: readonly DiffLine[], context = 2): string {
  const keep = lines.map(() => false);
  lines.forEach((l, i) => {
    if (l.op === ' ') return;
    for (let k = Math.max(0, i - context); k <= Math.min(lines.length - 1, i + context); k++) keep[k] = true;
  });
  const out: string[] = [];
  let skipped = false;
  lines.forEach((l, i) => {
    if (!keep[i]) {
      skipped = true;
      return;
    }
    if (skipped && out.length > 0) out.push('  ...');
    skipped = false;
    out.push(`${l.op} ${l.text}`);
  });
  return out.length === 0 ? '' : `${out.join('\n')}\n`;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** RFC 7386 merge patch turning `from` into `to` (null deletes a key). */
export function mergePatch(from: Record<string, unknown>, to: Record<string, unknown>): Record<string, unknown> {
  const patch: Record<string, unknown> = {};
  for (const key of Object.keys(from)) {
    if (!(key in to)) patch[key] = null;
  }
  for (const [key, value] of Object.entries(to)) {
    const old = from[key];
    if (isObject(old) && isObject(value)) {
      const sub = mergePatch(old, value);
      if (Object.keys(sub).length > 0) patch[key] = sub;
    } else if (!isDeepStrictEqual(old, value)) {
      patch[key] = value;
    }
  }
  return patch;
}

/** Keys sorted at every level, so the YAML shown for old and new lines up in the diff. */
export function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (!isObject(value)) return value;
  return Object.fromEntries(Object.keys(value).sort().map((k) => [k, sortKeys(value[k])]));
}
