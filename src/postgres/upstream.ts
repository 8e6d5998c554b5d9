// The node a replica streams from, a clone copies or a rewind reads: checked before its host goes
// into a conninfo or the pgpass file.
import { PgError } from './errors.js';

export interface UpstreamNode {
  readonly host: string;
  readonly port: number;
  /** Member name of the upstream, for logs only. */
  readonly name: string;
}

/** Any ASCII control character (line breaks, NUL, tabs, escape sequences). */
function hasControl(v: string): boolean {
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

/**
 * A host (from a member's conn_url in etcd) that libpq is about to be pointed at must be one plain
 * host name, address or socket directory: a line break would add lines to the pgpass file, `*`
 * would be its wildcard, a comma makes libpq try several hosts that no pgpass line names, and
 * blanks or quotes have no business in a host name. Refused with a PgError('bad-upstream').
 */
export function checkUpstream(node: { readonly host: string; readonly port: number; readonly name?: string }): void {
  const who = node.name === undefined ? 'upstream' : `member ${JSON.stringify(node.name)}`;
  const bad = (why: string): PgError =>
    new PgError('bad-upstream', `${who} has host ${JSON.stringify(node.host)} port ${String(node.port)}: ${why}; refusing to connect to it or write it to the pgpass file`, { retryable: false });
  if (node.host === '') throw bad('the host is empty');
  if (node.host === '*') throw bad('"*" is the pgpass wildcard');
  if (hasControl(node.host)) throw bad('the host contains a line break or control character');
  if (/[\s,'"\\]/.test(node.host)) throw bad('the host contains a blank, comma, quote or backslash');
  if (!Number.isInteger(node.port) || node.port < 1 || node.port > 65535) throw bad('the port is not a TCP port number');
}
