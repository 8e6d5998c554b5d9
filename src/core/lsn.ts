import type { Lsn } from './cluster.js';

/** Parse PostgreSQL's "16/B374D848" text form into a byte position. */
export function parseLsn(text: string): Lsn | null {
  const m = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(text.trim());
  if (!m || m[1] === undefined || m[2] === undefined) return null;
  return parseInt(m[1], 16) * 0x1_0000_0000 + parseInt(m[2], 16);
}

export function formatLsn(lsn: Lsn): string {
  const hi = Math.floor(lsn / 0x1_0000_0000);
  const lo = lsn % 0x1_0000_0000;
  return `${hi.toString(16).toUpperCase()}/${lo.toString(16).toUpperCase()}`;
}
