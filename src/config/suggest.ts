// "Did you mean" for unknown keys: a near spelling in the same section first, else the same
// key name somewhere else in the schema (ttl at the top level -> bootstrap.dcs.ttl).

/** Optimal string alignment distance (Levenshtein plus adjacent transpositions). */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      const row = d[i]!;
      const prev = d[i - 1]!;
      let best = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1);
      row[j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

function normalize(key: string): string {
  return key.toLowerCase().replace(/-/g, '_');
}

/** The closest sibling key, if close enough to be a plausible typo. */
export function closestKey(key: string, candidates: readonly string[]): string | undefined {
  const k = normalize(key);
  let best: { key: string; dist: number } | undefined;
  for (const c of candidates) {
    const dist = normalize(c) === k ? 0 : editDistance(k, normalize(c));
    if (best === undefined || dist < best.dist) best = { key: c, dist };
  }
  if (best === undefined) return undefined;
  const limit = k.length <= 4 ? 1 : k.length <= 8 ? 2 : 3;
  return best.dist <= limit ? best.key : undefined;
}

/** A full path elsewhere in the schema whose last segment is exactly `key`. */
export function elsewhere(key: string, allPaths: readonly string[], here: string): string | undefined {
  const hits = allPaths.filter((p) => (p === key || p.endsWith(`.${key}`)) && p !== (here === '' ? key : `${here}.${key}`));
  // Prefer the same section (postgresql.password -> postgresql.authentication.*.password), then the shallowest (schema order on ties).
  const shared = (p: string): number => {
    const a = p.split('.');
    const b = here === '' ? [] : here.split('.');
    let n = 0;
    while (n < a.length && n < b.length && a[n] === b[n]) n++;
    return n;
  };
  hits.sort((a, b) => shared(b) - shared(a) || a.split('.').length - b.split('.').length);
  return hits[0];
}
