// libpq connection strings: building (quoting, libpq options of a credentials block), parsing and
// redacting them.
import type { Credentials } from '../config/types.js';

/** A conninfo keyword value, quoted when libpq needs it. */
export function conninfoValue(value: string): string {
  if (/^[A-Za-z0-9_.\-/:@]+$/.test(value)) return value;
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

export function conninfo(pairs: Readonly<Record<string, string | number | undefined>>): string {
  return Object.entries(pairs)
    .filter((e): e is [string, string | number] => e[1] !== undefined && e[1] !== '')
    .map(([k, v]) => `${k}=${conninfoValue(String(v))}`)
    .join(' ');
}

/**
 * The libpq options a credentials block may carry (Patroni passes them through). sslpassword is a
 * secret: it may go into primary_conninfo (a 0600 file), never into a command line.
 */
export function libpqOptions(c: Credentials, where: 'file' | 'argv'): Record<string, string> {
  const out: Record<string, string> = { sslmode: c.sslmode ?? 'prefer' };
  const keys = ['sslcert', 'sslkey', 'sslrootcert', 'sslcrl', 'sslcrldir', 'channel_binding'] as const;
  for (const k of keys) {
    const v = c[k];
    if (v !== undefined) out[k] = v;
  }
  // GSS encryption negotiation costs a round trip on hosts without Kerberos; opt in explicitly.
  out.gssencmode = c.gssencmode ?? 'disable';
  if (where === 'file' && c.sslpassword !== undefined) out.sslpassword = c.sslpassword;
  return out;
}

/** Strip any password from a conninfo (key=value or URI form) before it is shown or logged. */
export function redactConninfo(text: string): string {
  return text
    .replace(/(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)/gi, '$1********')
    .replace(/(postgres(?:ql)?:\/\/[^:/@\s]+:)[^@\s]+@/gi, '$1********@');
}

/** key=value pairs of a conninfo string (libpq's syntax: values bare or single-quoted, `\` escapes). */
export function parseConninfo(text: string): Map<string, string> {
  const out = new Map<string, string>();
  let i = 0;
  const n = text.length;
  const blank = (ch: string | undefined): boolean => ch !== undefined && /\s/.test(ch);
  while (i < n) {
    while (blank(text[i])) i++;
    if (i >= n) break;
    const key = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i))?.[0];
    if (key === undefined) break;
    i += key.length;
    while (blank(text[i])) i++;
    if (text[i] !== '=') break;
    i++;
    while (blank(text[i])) i++;
    let value = '';
    if (text[i] === "'") {
      i++;
      while (i < n && text[i] !== "'") {
        if (text[i] === '\\' && i + 1 < n) i++;
        value += text[i];
        i++;
      }
      i++;
    } else {
      while (i < n && !blank(text[i])) {
        if (text[i] === '\\' && i + 1 < n) i++;
        value += text[i];
        i++;
      }
    }
    out.set(key, value);
  }
  return out;
}
