import type { MemberView } from './cluster.js';
import type { MemberRef } from './decide-types.js';

/** Parse a member's conn_url ("postgres://host:port/db") into where to reach it. */
export function memberRef(m: MemberView): MemberRef | null {
  const match = /^postgres(?:ql)?:\/\/(?:[^@/]*@)?(\[[^\]]+\]|[^:/?]+)(?::(\d+))?/.exec(m.connUrl);
  if (!match || match[1] === undefined) return null;
  const host = match[1].startsWith('[') ? match[1].slice(1, -1) : match[1];
  const port = match[2] === undefined ? 5432 : Number(match[2]);
  return { name: m.name, host, port, apiUrl: m.apiUrl };
}
