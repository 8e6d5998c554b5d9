// The agent's own GETs to other members' REST APIs (the S2 probe of GET /patroni before a leader
// race or a switchover, the candidate's position during a switchover). The members' api_url is
// https when restapi.certfile is set, and a cluster whose API requires client certificates
// (verify_client: required) answers nothing to a client without one: a plain fetch() failed both
// ways, so a switchover found "no good candidates". Settings as Patroni's agent takes them
// (patroni/request.py with insecure=True): the CA is restapi.cafile, the client certificate is the
// member's own restapi.certfile/keyfile (every member presents the cluster's certificate), and the
// member's host name is not checked against its certificate (Patroni sets assert_hostname=False;
// api_url names an address, often not the one in the certificate). Without a cafile Patroni does
// not verify the member's certificate at all; neither do we, or a Patroni config that works would
// not. Basic auth from restapi.authentication is sent as Patroni does (GET does not need it).
import { readFileSync } from 'node:fs';
import { get as httpGet, type IncomingMessage } from 'node:http';
import { get as httpsGet, type RequestOptions } from 'node:https';
import type { RestApiConfig } from '../config/types.js';

export interface PeerHttp {
  /** GET url and parse the body as JSON; any answer is a value, transport failures throw. */
  getJson(url: string, opts: { readonly timeoutMs: number; readonly signal?: AbortSignal }): Promise<unknown>;
}

export type ReadFile = (path: string) => Buffer;

function read(key: string, path: string, readFile: ReadFile): Buffer {
  try {
    return readFile(path);
  } catch (err) {
    throw new Error(`restapi.${key}: cannot read '${path}' (${(err as NodeJS.ErrnoException).code ?? 'error'})`, { cause: err });
  }
}

/** TLS and header options for requests to other members, from this member's restapi section. */
export function peerRequestOptions(restapi: RestApiConfig, readFile: ReadFile = readFileSync): RequestOptions {
  const headers: Record<string, string> = { 'user-agent': 'pg-ha-agent' };
  if (restapi.authentication) {
    const { username, password } = restapi.authentication;
    headers['authorization'] = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
  }
  const tls: RequestOptions = {};
  if (restapi.certfile !== undefined) {
    tls.cert = read('certfile', restapi.certfile, readFile);
    tls.key = restapi.keyfile === undefined ? tls.cert : read('keyfile', restapi.keyfile, readFile);
    if (restapi.keyfile_password !== undefined) tls.passphrase = restapi.keyfile_password;
  }
  if (restapi.cafile !== undefined) {
    tls.ca = read('cafile', restapi.cafile, readFile);
    tls.rejectUnauthorized = true;
    tls.checkServerIdentity = () => undefined;
  } else {
    tls.rejectUnauthorized = false;
  }
  return { headers, ...tls };
}

/** A member's status is a few kB; anything much larger is not one (api_url comes from etcd, issue 13). */
export const MAX_STATUS_BYTES = 256 * 1024;

function readBody(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const declared = Number(res.headers['content-length'] ?? NaN);
    if (declared > MAX_STATUS_BYTES) {
      res.destroy();
      reject(new Error(`status body of ${declared} bytes is larger than ${MAX_STATUS_BYTES}`));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    res.on('data', (c: Buffer) => {
      size += c.byteLength;
      if (size > MAX_STATUS_BYTES) {
        res.destroy();
        reject(new Error(`status body larger than ${MAX_STATUS_BYTES} bytes`));
        return;
      }
      chunks.push(c);
    });
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.on('error', reject);
  });
}

/** A client for restapi as it is now: the files are read once per restapi object (a reload makes a new one). */
export function createPeerHttp(restapi: () => RestApiConfig, readFile: ReadFile = readFileSync): PeerHttp {
  let cached: { for: RestApiConfig; options: RequestOptions } | null = null;
  const options = (): RequestOptions => {
    const current = restapi();
    if (cached?.for !== current) cached = { for: current, options: peerRequestOptions(current, readFile) };
    return cached.options;
  };
  return {
    getJson: (url, opts) => new Promise<unknown>((resolve, reject) => {
      const signal = opts.signal ? AbortSignal.any([opts.signal, AbortSignal.timeout(opts.timeoutMs)]) : AbortSignal.timeout(opts.timeoutMs);
      const { protocol } = new URL(url);
      // api_url comes from etcd: only http(s), never data:, file: or other schemes.
      if (protocol !== 'http:' && protocol !== 'https:') {
        reject(new Error(`api_url scheme ${protocol} is not http or https`));
        return;
      }
      const base = options();
      // Plain http carries no TLS options (node:http would ignore them anyway).
      const req = protocol === 'https:'
        ? httpsGet(url, { ...base, signal, agent: false })
        : httpGet(url, { headers: base.headers ?? {}, signal, agent: false });
      req.on('response', (res) => {
        // node:http never follows one, and the probe's credentials go only where the member key says.
        if (res.statusCode !== undefined && res.statusCode >= 300 && res.statusCode < 400) {
          res.destroy();
          reject(new Error(`api_url answered a redirect (HTTP ${res.statusCode}); not followed`));
          return;
        }
        readBody(res).then((text) => {
          try {
            resolve(JSON.parse(text));
          } catch {
            reject(new Error(`${url} answered ${res.statusCode ?? '?'} with a body that is not JSON`));
          }
        }, reject);
      });
      req.on('error', reject);
    }),
  };
}
