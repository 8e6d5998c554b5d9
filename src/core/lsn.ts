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

/** XLogRecord header (24) + short data header (2) + CheckPoint (88 bytes in PostgreSQL 13 to 17). */
export const SHUTDOWN_CHECKPOINT_RECORD_BYTES = 24 + 2 + 88;
const XLOG_PAGE_BYTES = 8192;
/** A short page header; a segment's first page has a long one (40), but only 16 MB segments are assumed. */
const XLOG_SHORT_PAGE_HEADER_BYTES = 24;

/**
 * Where the shutdown checkpoint record that starts at `lsn` ends: a standby whose flushed position
 * reaches it holds every record the stopped primary wrote. A record that crosses into the next
 * page carries that page's header too. Errs low by at most 16 bytes at a segment boundary (whose
 * header is the long one), never high, so a standby that has the record is never refused.
 */
export function shutdownCheckpointEnd(lsn: Lsn): Lsn {
  const end = lsn + SHUTDOWN_CHECKPOINT_RECORD_BYTES;
  const crosses = Math.floor((end - 1) / XLOG_PAGE_BYTES) > Math.floor(lsn / XLOG_PAGE_BYTES);
  return crosses ? end + XLOG_SHORT_PAGE_HEADER_BYTES : end;
}
