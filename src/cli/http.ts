// The REST client agentctl uses to act on members: node:http/https with the configured basic
// auth and TLS. Answers of any status are values; only transport failures throw (RestError).
import { readFileSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { RestClientSettings } from './ctl-config.js';

export interface RestAnswer {
  readonly status: number;
  readonly text: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  readonly json: unknown;
}

export interface RestRequest {
  readonly method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  /** Absolute URL. */
  readonly url: string;
  readonly body?: unknown;
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
}

/** The seam agentctl's commands talk through (a fake in unit tests). */
export interface RestClient {
  call(req: RestRequest): Promise<RestAnswer>;
}

export class RestError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RestError';
  }
}

/** The base URL of a member's API from its api_url (http://host:port/patroni). */
export function apiBase(apiUrl: string): string {
  const u = new URL(apiUrl);
  return `${u.protocol}//${u.host}`;
}

function tlsOptions(s: RestClientSettings): RequestOptions & Record<string, unknown> {
  const read = (what: string, path: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw new RestError(`cannot read the ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, { cause: err });
    }
  };
  return {
    ...(s.caFile ? { ca: read('CA file', s.caFile) } : {}),
    ...(s.certFile ? { cert: read('client certificate', s.certFile) } : {}),
    ...(s.keyFile ? { key: read('client key', s.keyFile) } : s.certFile ? { key: read('client key', s.certFile) } : {}),
    ...(s.keyPassword !== undefined ? { passphrase: s.keyPassword } : {}),
    rejectUnauthorized: !s.insecure,
  };
}

function readBody(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.on('error', reject);
  });
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function describeTransport(err: unknown, url: string, timeoutMs: number): string {
  const e = err as NodeJS.ErrnoException;
  if (e.name === 'AbortError' || e.code === 'ABORT_ERR') return `request to ${url} was cancelled`;
  if (e.code === 'ETIMEDOUT_AGENTCTL') return `no answer from ${url} within ${timeoutMs} ms`;
  if (e.code === 'ECONNREFUSED') return `connection to ${url} refused (is the agent running?)`;
  return `request to ${url} failed: ${e.code ?? e.message}`;
}

export function createRestClient(settings: RestClientSettings): RestClient {
  let tls: ReturnType<typeof tlsOptions> | undefined;
  const headers: Record<string, string> = { 'user-agent': 'agentctl', accept: 'application/json' };
  if (settings.auth) {
    headers['authorization'] = `Basic ${Buffer.from(`${settings.auth.username}:${settings.auth.password}`).toString('base64')}`;
  }
  return {
    call(req) {
      const url = new URL(req.url);
      const https = url.protocol === 'https:';
      if (https) tls ??= tlsOptions(settings);
      const body = req.body === undefined ? undefined : JSON.stringify(req.body);
      const opts: RequestOptions = {
        method: req.method,
        headers: { ...headers, ...(body !== undefined ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) } : {}) },
        ...(https ? tls : {}),
        ...(req.signal ? { signal: req.signal } : {}),
      };
      return new Promise<RestAnswer>((resolve, reject) => {
        const r = (https ? httpsRequest : httpRequest)(url, opts, (res) => {
          readBody(res).then((text) => resolve({ status: res.statusCode ?? 0, text, json: parseJson(text) }), reject);
        });
        const timer = setTimeout(() => {
          const e = new Error('timeout') as NodeJS.ErrnoException;
          e.code = 'ETIMEDOUT_AGENTCTL';
          r.destroy(e);
        }, req.timeoutMs);
        r.on('close', () => clearTimeout(timer));
        r.on('error', (err) => {
          clearTimeout(timer);
          reject(new RestError(describeTransport(err, url.href, req.timeoutMs), { cause: err }));
        });
        r.end(body);
      });
    },
  };
}

/** The sentence of an error answer: our {"error": ...} JSON or Patroni's plain text. */
export function answerMessage(a: RestAnswer): string {
  const j = a.json;
  if (typeof j === 'object' && j !== null && typeof (j as { error?: unknown }).error === 'string') return (j as { error: string }).error;
  const text = a.text.trim();
  return text === '' ? `HTTP ${a.status}` : text.slice(0, 500);
}
