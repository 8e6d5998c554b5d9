// Access control for mutating endpoints, in Patroni's order: source address allowlist (403), client
// certificate when TLS asks for one (403), HTTP basic auth (401 with a challenge).
import { createHash, timingSafeEqual } from 'node:crypto';
import { BlockList, isIP } from 'node:net';
import type { RestApiConfig } from '../config/types.js';

export interface AccessRequest {
  /** Remote address as the socket reports it (IPv4-mapped IPv6 is accepted). */
  readonly ip: string;
  readonly authorization: string | undefined;
  /** TLS connections: whether the client presented a certificate the CA verified; null on plain HTTP. */
  readonly tlsAuthorized: boolean | null;
}

export interface AccessDenial {
  readonly status: 401 | 403;
  readonly message: string;
  readonly headers: Readonly<Record<string, string>>;
}

export type AccessCheck = (req: AccessRequest) => AccessDenial | null;

/** Patroni's realm, so clients written for Patroni see the challenge they expect. */
export const AUTH_REALM = 'Patroni';

/** Build the allowlist; an entry that is neither an IP address nor a CIDR is a config error. */
export function buildAllowlist(entries: readonly string[]): BlockList | null {
  if (entries.length === 0) return null;
  const list = new BlockList();
  for (const entry of entries) {
    const [addr = '', prefixText, extra] = entry.trim().split('/');
    const family = isIP(addr);
    const prefix = prefixText === undefined ? (family === 6 ? 128 : 32) : Number(prefixText);
    const maxPrefix = family === 6 ? 128 : 32;
    if (family === 0 || extra !== undefined || !Number.isInteger(prefix) || prefix < 0 || prefix > maxPrefix) {
      throw new Error(`restapi.allowlist: '${entry}' is not an IP address or a CIDR network (e.g. 10.0.0.0/8)`);
    }
    list.addSubnet(addr, prefix, family === 6 ? 'ipv6' : 'ipv4');
  }
  return list;
}

function allowed(list: BlockList, ip: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  const addr = mapped?.[1] ?? ip;
  const family = isIP(addr);
  if (family === 0) return false;
  return list.check(addr, family === 6 ? 'ipv6' : 'ipv4');
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/**
 * Compare credentials in constant time: both sides are hashed to equal-length digests first, and
 * user and password are always both compared, so timing reveals neither length nor which failed.
 */
function credentialsMatch(header: string, username: string, password: string): boolean {
  if (!/^Basic /i.test(header)) return false;
  const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
  const sep = decoded.indexOf(':');
  const user = sep < 0 ? decoded : decoded.slice(0, sep);
  const pass = sep < 0 ? '' : decoded.slice(sep + 1);
  const userOk = timingSafeEqual(digest(user), digest(username));
  const passOk = timingSafeEqual(digest(pass), digest(password));
  return userOk && passOk && sep >= 0;
}

export function buildAccessCheck(restapi: RestApiConfig): AccessCheck {
  const allowlist = buildAllowlist(restapi.allowlist);
  const auth = restapi.authentication;
  const certRequired = restapi.certfile !== undefined &&
    (restapi.verify_client === 'required' || restapi.verify_client === 'optional');
  return (req) => {
    if (allowlist && !allowed(allowlist, req.ip)) {
      return { status: 403, message: 'Access is denied', headers: {} };
    }
    if (certRequired && req.tlsAuthorized !== true) {
      return { status: 403, message: 'client certificate required', headers: {} };
    }
    if (auth) {
      const challenge = { 'WWW-Authenticate': `Basic realm="${AUTH_REALM}"` };
      if (req.authorization === undefined) return { status: 401, message: 'no auth header received', headers: challenge };
      if (!credentialsMatch(req.authorization, auth.username, auth.password)) {
        return { status: 401, message: 'not authenticated', headers: challenge };
      }
    }
    return null;
  };
}
