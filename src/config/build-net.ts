// restapi and etcd3 sections.
import { parseCidr, parseHostPort, parsePort } from './address.js';
import { connectAddress, optionalPath, report, requiredString, type BuildCtx } from './build-ctx.js';
import { has, num, obj, str, type Raw } from './read.js';
import type { Etcd3Config, HostPort, RestApiConfig } from './types.js';

type Writable<T> = { -readonly [K in keyof T]: T[K] };

function restAuth(ctx: BuildCtx, raw: Raw | undefined): RestApiConfig['authentication'] {
  const auth = obj(raw, 'authentication');
  if (auth === undefined) return undefined;
  const username = requiredString(ctx, auth, 'restapi.authentication', 'username');
  const password = requiredString(ctx, auth, 'restapi.authentication', 'password');
  return username !== undefined && password !== undefined ? { username, password } : undefined;
}

function restTls(ctx: BuildCtx, raw: Raw | undefined, out: Writable<RestApiConfig>): void {
  const certfile = optionalPath(ctx, raw, 'restapi', 'certfile', true);
  const keyfile = optionalPath(ctx, raw, 'restapi', 'keyfile', true);
  const cafile = optionalPath(ctx, raw, 'restapi', 'cafile', true);
  const keyfilePassword = str(raw, 'keyfile_password');
  const verify = str(raw, 'verify_client');
  if (has(raw, 'certfile') && !has(raw, 'keyfile')) ctx.sink.problem('restapi.keyfile', 'is required when restapi.certfile is set');
  if (has(raw, 'keyfile') && !has(raw, 'certfile')) ctx.sink.problem('restapi.certfile', 'is required when restapi.keyfile is set');
  if (has(raw, 'cafile') && !has(raw, 'certfile')) ctx.sink.problem('restapi.certfile', 'is required when restapi.cafile is set (TLS needs a server certificate)');
  if (verify !== undefined) {
    if (verify !== 'none' && verify !== 'optional' && verify !== 'required') {
      ctx.sink.problem('restapi.verify_client', `must be none, optional or required, got "${verify}"`);
    } else {
      out.verify_client = verify;
      if (verify !== 'none' && !has(raw, 'cafile')) ctx.sink.problem('restapi.cafile', `is required when restapi.verify_client is ${verify}`);
      if (verify !== 'none' && !has(raw, 'certfile')) ctx.sink.problem('restapi.verify_client', `${verify} needs TLS: set restapi.certfile and restapi.keyfile`);
    }
  }
  if (certfile !== undefined) out.certfile = certfile;
  if (keyfile !== undefined) out.keyfile = keyfile;
  if (cafile !== undefined) out.cafile = cafile;
  if (keyfilePassword !== undefined) out.keyfile_password = keyfilePassword;
}

function allowlist(ctx: BuildCtx, raw: Raw | undefined): string[] {
  const list = raw?.['allowlist'];
  if (!Array.isArray(list)) return [];
  const out: string[] = [];
  list.forEach((entry, i) => {
    if (typeof entry !== 'string') return;
    const cidr = report(ctx, `restapi.allowlist[${i}]`, parseCidr(entry));
    if (cidr !== undefined) out.push(cidr);
  });
  return out;
}

export function buildRestApi(ctx: BuildCtx, raw: Raw | undefined): RestApiConfig | undefined {
  const listenText = requiredString(ctx, raw, 'restapi', 'listen');
  const listen = listenText === undefined ? undefined
    : report(ctx, 'restapi.listen', parseHostPort(listenText, { example: '0.0.0.0:8008' }));
  const connect = connectAddress(ctx, raw, 'restapi', listen, true);
  const out: Writable<RestApiConfig> = { listen: listen ?? { host: '', port: 0 }, connect_address: connect ?? { host: '', port: 0 }, allowlist: allowlist(ctx, raw) };
  const auth = restAuth(ctx, raw);
  if (auth !== undefined) out.authentication = auth;
  restTls(ctx, raw, out);
  return listen !== undefined && connect !== undefined ? out : undefined;
}

type Scheme = 'http' | 'https';

function etcdEntry(ctx: BuildCtx, path: string, text: string, defaultPort: number, schemes: Scheme[]): HostPort | undefined {
  if (text.includes('@')) {
    ctx.sink.problem(path, 'must not contain credentials: use etcd3.username and etcd3.password');
    return undefined;
  }
  const m = /^(https?):\/\/(.*)$/.exec(text.trim());
  if (m) schemes.push(m[1] as Scheme);
  const hostPort = (m ? m[2]! : text).replace(/\/+$/, '');
  return report(ctx, path, parseHostPort(hostPort, { defaultPort, example: '10.0.0.1:2379' }));
}

function etcdUrl(ctx: BuildCtx, text: string, schemes: Scheme[]): HostPort | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    ctx.sink.problem('etcd3.url', 'is not a valid URL (expected e.g. http://10.0.0.1:2379)');
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    ctx.sink.problem('etcd3.url', `must use http or https, got "${url.protocol.replace(/:$/, '')}"`);
    return undefined;
  }
  schemes.push(url.protocol === 'https:' ? 'https' : 'http');
  const port = url.port === '' ? { ok: true as const, value: 2379 } : parsePort(url.port);
  const p = report(ctx, 'etcd3.url', port);
  return p === undefined ? undefined : { host: url.hostname.replace(/^\[|\]$/g, ''), port: p };
}

function etcdHosts(ctx: BuildCtx, raw: Raw | undefined, schemes: Scheme[]): HostPort[] {
  const defaultPort = num(raw, 'port') ?? 2379;
  const url = str(raw, 'url');
  if (url !== undefined) {
    const hp = etcdUrl(ctx, url, schemes);
    return hp === undefined ? [] : [hp];
  }
  const hosts = raw?.['hosts'];
  const entries: { path: string; text: string }[] = typeof hosts === 'string'
    ? hosts.split(',').map((t) => ({ path: 'etcd3.hosts', text: t }))
    : Array.isArray(hosts) ? hosts.flatMap((t, i) => (typeof t === 'string' ? [{ path: `etcd3.hosts[${i}]`, text: t }] : []))
      : typeof raw?.['host'] === 'string' ? [{ path: 'etcd3.host', text: raw['host'] }] : [];
  const out: HostPort[] = [];
  for (const e of entries.filter((x) => x.text.trim() !== '')) {
    const hp = etcdEntry(ctx, e.path, e.text, defaultPort, schemes);
    if (hp !== undefined) out.push(hp);
  }
  return out;
}

function etcdProtocol(ctx: BuildCtx, raw: Raw | undefined, schemes: Scheme[]): Scheme {
  const given = str(raw, 'protocol');
  if (given !== undefined && given !== 'http' && given !== 'https') {
    ctx.sink.problem('etcd3.protocol', `must be http or https, got "${given}"`);
  }
  const unique = [...new Set(schemes)];
  if (unique.length > 1) ctx.sink.problem('etcd3.hosts', 'mixes http:// and https:// endpoints');
  const fromUrls = unique[0];
  if (given !== undefined && fromUrls !== undefined && given !== fromUrls) {
    ctx.sink.problem('etcd3.protocol', `is ${given} but the endpoints say ${fromUrls}://`);
  }
  return given === 'https' || (given === undefined && fromUrls === 'https') ? 'https' : 'http';
}

function etcdAuthAndTls(ctx: BuildCtx, raw: Raw | undefined, out: Writable<Etcd3Config>): void {
  const username = str(raw, 'username');
  const password = str(raw, 'password');
  if (has(raw, 'username') && !has(raw, 'password')) ctx.sink.problem('etcd3.password', 'is required when etcd3.username is set');
  if (has(raw, 'password') && !has(raw, 'username')) ctx.sink.problem('etcd3.username', 'is required when etcd3.password is set');
  if (username !== undefined) out.username = username;
  if (password !== undefined) out.password = password;
  const cacert = optionalPath(ctx, raw, 'etcd3', 'cacert', true);
  const cert = optionalPath(ctx, raw, 'etcd3', 'cert', true);
  const key = optionalPath(ctx, raw, 'etcd3', 'key', true);
  if (has(raw, 'cert') && !has(raw, 'key')) ctx.sink.problem('etcd3.key', 'is required when etcd3.cert is set');
  if (has(raw, 'key') && !has(raw, 'cert')) ctx.sink.problem('etcd3.cert', 'is required when etcd3.key is set');
  if (cacert !== undefined) out.cacert = cacert;
  if (cert !== undefined) out.cert = cert;
  if (key !== undefined) out.key = key;
}

export function buildEtcd3(ctx: BuildCtx, raw: Raw | undefined, v2Present: boolean): Etcd3Config | undefined {
  // With a Patroni `etcd:` section the "rename it to etcd3" problem says it all.
  if (raw === undefined && v2Present) return undefined;
  const port = num(raw, 'port');
  if (port !== undefined) report(ctx, 'etcd3.port', parsePort(String(port)));
  const schemes: Scheme[] = [];
  const hosts = etcdHosts(ctx, raw, schemes);
  const anyGiven = ['url', 'hosts', 'host'].some((k) => has(raw, k));
  if (!anyGiven) ctx.sink.problem('etcd3.hosts', 'is required: give etcd3.host or etcd3.hosts (host:port of each etcd member)');
  else if (hosts.length === 0 && !ctx.sink.hasProblemAt('etcd3')) ctx.sink.problem('etcd3.hosts', 'lists no endpoint');
  const out: Writable<Etcd3Config> = { hosts, protocol: etcdProtocol(ctx, raw, schemes) };
  etcdAuthAndTls(ctx, raw, out);
  if (out.protocol === 'http' && (out.cert !== undefined || out.cacert !== undefined)) {
    ctx.sink.warn('etcd3.protocol', 'is http, so etcd3.cacert/cert/key are not used; set protocol: https for TLS');
  }
  return hosts.length > 0 ? out : undefined;
}
