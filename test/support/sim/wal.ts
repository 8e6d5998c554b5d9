// WAL as ground truth: a list of segments, each written by one primary incarnation (uid). Two
// nodes hold the same WAL up to a position exactly when their segments agree there, whatever the
// timeline numbers say; that is what the S4 check compares.

export interface Segment {
  /** Which primary incarnation wrote these bytes. */
  readonly uid: number;
  readonly from: number;
  /** Exclusive. */
  readonly to: number;
}

export type Wal = readonly Segment[];

export function walEnd(w: Wal): number {
  return w.length === 0 ? 0 : (w[w.length - 1] as Segment).to;
}

/** Append `n` bytes written by `uid`. */
export function append(w: Wal, uid: number, n: number): Wal {
  const last = w[w.length - 1];
  if (last && last.uid === uid) return [...w.slice(0, -1), { uid, from: last.from, to: last.to + n }];
  const end = walEnd(w);
  return [...w, { uid, from: end, to: end + n }];
}

/** The first `at` bytes. */
export function truncate(w: Wal, at: number): Wal {
  const out: Segment[] = [];
  for (const s of w) {
    if (s.from >= at) break;
    out.push(s.to <= at ? s : { uid: s.uid, from: s.from, to: at });
  }
  return out;
}

/** `base` up to `at`, then `src`'s bytes from `at` up to `upTo`: what streaming does. */
export function splice(base: Wal, at: number, src: Wal, upTo: number): Wal {
  const out: Segment[] = [...truncate(base, at)];
  for (const s of src) {
    if (s.to <= at || s.from >= upTo) continue;
    const piece = { uid: s.uid, from: Math.max(s.from, at), to: Math.min(s.to, upTo) };
    const last = out[out.length - 1];
    if (last && last.uid === piece.uid && last.to === piece.from) out[out.length - 1] = { uid: last.uid, from: last.from, to: piece.to };
    else out.push(piece);
  }
  return out;
}

/** How many leading bytes `a` and `b` have in common. */
export function commonPrefix(a: Wal, b: Wal): number {
  let i = 0;
  let j = 0;
  let pos = 0;
  while (i < a.length && j < b.length) {
    const x = a[i] as Segment;
    const y = b[j] as Segment;
    if (x.uid !== y.uid) return pos;
    const to = Math.min(x.to, y.to);
    pos = to;
    if (x.to === to) i++;
    if (y.to === to) j++;
    if (x.to !== y.to) {
      // One segment ends inside the other: the next byte must come from the same writer.
      const nx = x.to === to ? a[i] : x;
      const ny = y.to === to ? b[j] : y;
      if (!nx || !ny || nx.uid !== ny.uid) return pos;
    }
  }
  return pos;
}

/** Is `a` a prefix of `b` (every byte of `a` is in `b` at the same place)? */
export function isPrefix(a: Wal, b: Wal): boolean {
  return commonPrefix(a, b) === walEnd(a);
}
