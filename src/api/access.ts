// Access control for mutating endpoints, in Patroni's order: source address allowlist (403), client
// certificate when TLS asks for one (403), HTTP basic auth (401 with a challenge). Unlike Patroni,
// an API without restapi.authentication is not open to everyone who can reach the port: mutating
// requests then come only from loopback and the allowlist (issue 13), because PATCH /config alone
// can run commands as postgres on every node.
import { createHash, timingSafeEqual } from 'node:crypto';
import { BlockList, isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
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

const LOOPBACK = ['127.0.0.0/8', '::1/128'];

/**
 * This host's own interface addresses. agentctl on a node reaches its own agent through the
 * member's api_url, so the request comes from the node's own address, not from loopback; TCP's
 * handshake means such a source really is this host.
 */
export function hostAddresses(): string[] {
  return Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((i) => i.address.replace(/%.*$/, '')))
    .filter((a) => isIP(a) !== 0);
}

/** Without authentication, whom the admin API answers: this host (loopback, its own addresses) and the allowlist. */
export function unauthenticatedAllowlist(restapi: RestApiConfig, own: readonly string[] = hostAddresses()): readonly string[] {
  return [...LOOPBACK, ...own, ...restapi.allowlist];
}

/**
 * The start-up warning for an API without authentication, or null when there is nothing to say.
 * It names the way to open the API, because an operator who meets a 403 looks at the log first.
 */
export function openApiWarning(restapi: RestApiConfig): string | null {
  if (restapi.authentication) return null;
  const listed = restapi.allowlist.length === 0 ? '' : ` and restapi.allowlist (${restapi.allowlist.join(', ')})`;
  return `restapi.authentication is not set: mutating REST requests are accepted from this host only (loopback and its own addresses)${listed}; ` +
    'set restapi.authentication (username, password) to admit authenticated clients from anywhere, or list ' +
    'the admin hosts in restapi.allowlist (0.0.0.0/0 and ::/0 open it to everyone, as Patroni does by default)';
}

export function buildAccessCheck(restapi: RestApiConfig, own: readonly string[] = hostAddresses()): AccessCheck {
  const auth = restapi.authentication;
  const allowlist = buildAllowlist(auth ? restapi.allowlist : unauthenticatedAllowlist(restapi, own));
  const certRequired = restapi.certfile !== undefined &&
    (restapi.verify_client === 'required' || restapi.verify_client === 'optional');
  return (req) => {
    if (allowlist && !allowed(allowlist, req.ip)) {
      const message = auth ? 'Access is denied' : 'Access is denied: without restapi.authentication only this host and restapi.allowlist may change the cluster';
      return { status: 403, message, headers: {} };
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
