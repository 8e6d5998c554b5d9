// Address parsing for the `host:port` strings of Patroni's YAML. Hosts are stored without
// brackets (what listen_addresses and sockets want); formatHostPort adds them back for URLs.
import { isIP, isIPv4, isIPv6 } from 'node:net';
import type { HostPort } from './types.js';

export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly message: string };

const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?$/;
const WILDCARDS = new Set(['0.0.0.0', '::', '*']);

const fail = (message: string): { ok: false; message: string } => ({ ok: false, message });

export function isWildcardHost(host: string): boolean {
  return WILDCARDS.has(host);
}

export function formatHostPort(hp: HostPort): string {
  return hp.host.includes(':') ? `[${hp.host}]:${hp.port}` : `${hp.host}:${hp.port}`;
}

export function parsePort(text: string): Parsed<number> {
  const t = text.trim();
  if (!/^\d+$/.test(t)) return fail(`port must be an integer between 1 and 65535, got "${t}"`);
  const port = Number(t);
  if (port < 1 || port > 65535) return fail(`port must be an integer between 1 and 65535, got ${port}`);
  return { ok: true, value: port };
}

/** One host: an IPv4 address, a bracketed IPv6 address or a DNS name (`*` only when allowed). */
function checkHost(raw: string, example: string, allowStar: boolean): Parsed<string> {
  const h = raw.trim();
  if (h === '') return fail(`host is empty (expected host:port, e.g. ${example})`);
  if (h.startsWith('[') || h.endsWith(']')) {
    const inner = h.replace(/^\[/, '').replace(/\]$/, '');
    if (!h.startsWith('[') || !h.endsWith(']') || !isIPv6(inner)) return fail(`"${h}" is not a valid bracketed IPv6 address`);
    return { ok: true, value: inner };
  }
  if (h.includes(':')) return fail(`IPv6 addresses must be written in brackets, e.g. [::1]:5432 (got "${h}")`);
  if (h === '*') return allowStar ? { ok: true, value: h } : fail('"*" is only allowed in postgresql.listen; use 0.0.0.0 or ::');
  if (/^[\d.]+$/.test(h) && !isIPv4(h)) return fail(`"${h}" is not a valid IPv4 address`);
  if (!isIPv4(h) && !HOSTNAME.test(h)) return fail(`"${h}" is not a valid host name or IP address`);
  return { ok: true, value: h };
}

/** Splits "host:port" at the port colon, honouring brackets. */
function splitPort(value: string): { hosts: string; port: string | undefined } {
  if (value.endsWith(']')) return { hosts: value, port: undefined };
  const i = value.lastIndexOf(':');
  if (i < 0) return { hosts: value, port: undefined };
  const hosts = value.slice(0, i);
  // "::1" style text without brackets: let checkHost explain the bracket rule.
  if (hosts.includes(':') && !hosts.includes(']')) return { hosts: value, port: undefined };
  return { hosts, port: value.slice(i + 1) };
}

export function parseHostPort(value: string, opts: { defaultPort?: number; example?: string } = {}): Parsed<HostPort> {
  const example = opts.example ?? '10.0.0.1:5432';
  const v = value.trim();
  if (v === '') return fail(`is empty (expected host:port, e.g. ${example})`);
  const { hosts, port } = splitPort(v);
  if (hosts.includes(',')) return fail(`expected a single host:port, got a list ("${v}")`);
  const host = checkHost(hosts, example, false);
  if (!host.ok) return host;
  if (port === undefined) {
    if (opts.defaultPort !== undefined) return { ok: true, value: { host: host.value, port: opts.defaultPort } };
    return fail(`"${v}" has no port (expected host:port, e.g. ${example})`);
  }
  const p = parsePort(port);
  if (!p.ok) return p;
  return { ok: true, value: { host: host.value, port: p.value } };
}

/** PostgreSQL's listen: "addr1,addr2:port" (Patroni); addresses come back as listen_addresses text. */
export function parseListen(value: string): Parsed<{ addresses: readonly string[]; port: number }> {
  const v = value.trim();
  const example = '0.0.0.0:5432';
  if (v === '') return fail(`is empty (expected host:port, e.g. ${example})`);
  const { hosts, port } = splitPort(v);
  if (port === undefined) return fail(`"${v}" has no port (expected host:port, e.g. ${example})`);
  const addresses: string[] = [];
  for (const part of hosts.split(',')) {
    const h = checkHost(part, example, true);
    if (!h.ok) return h;
    addresses.push(h.value);
  }
  if (addresses.includes('*') && addresses.length > 1) return fail('"*" must be the only address when used');
  const p = parsePort(port);
  if (!p.ok) return p;
  return { ok: true, value: { addresses, port: p.value } };
}

/** An allowlist entry: an IP address or a CIDR network; returned in CIDR form. */
export function parseCidr(value: string): Parsed<string> {
  const v = value.trim();
  const slash = v.indexOf('/');
  const ip = slash < 0 ? v : v.slice(0, slash);
  const family = isIP(ip);
  if (family === 0) return fail(`"${v}" is not an IP address or CIDR network (e.g. 10.0.0.0/8)`);
  const max = family === 4 ? 32 : 128;
  if (slash < 0) return { ok: true, value: `${ip}/${max}` };
  const bits = v.slice(slash + 1);
  if (!/^\d+$/.test(bits) || Number(bits) > max) {
    return fail(`"${v}" has a bad prefix length (expected 0-${max} after "/")`);
  }
  return { ok: true, value: `${ip}/${Number(bits)}` };
}
