// Refuses mutating requests a web browser could have been tricked into sending (issue 13). A page
// on another site can POST to an agent it can reach (a form, or fetch in no-cors mode) but only
// with a "simple" Content-Type (text/plain, form encodings) and with the browser's Origin and
// Sec-Fetch-Site headers, which the page cannot suppress. Requiring application/json and a
// same-origin (or absent) Origin shuts that door; curl, agentctl and patronictl send neither header.
import type { IncomingHttpHeaders } from 'node:http';

export interface CrossSiteDenial {
  readonly status: 403 | 415;
  readonly message: string;
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** A body is coming when the request says so (Content-Length above 0, or chunked). */
export function hasBody(headers: IncomingHttpHeaders): boolean {
  const length = header(headers, 'content-length');
  if (length !== undefined && length.trim() !== '0') return true;
  return header(headers, 'transfer-encoding') !== undefined;
}

function isJsonType(contentType: string): boolean {
  const mime = contentType.split(';')[0]?.trim().toLowerCase() ?? '';
  return mime === 'application/json' || /^application\/[a-z0-9.+-]*\+json$/.test(mime);
}

function originDenial(headers: IncomingHttpHeaders): CrossSiteDenial | null {
  if (header(headers, 'sec-fetch-site')?.trim().toLowerCase() === 'cross-site') {
    return { status: 403, message: 'cross-site requests may not change the cluster (Sec-Fetch-Site: cross-site)' };
  }
  const origin = header(headers, 'origin');
  if (origin === undefined) return null;
  const host = header(headers, 'host')?.trim().toLowerCase();
  let originHost: string | null = null;
  try {
    // "null" (a sandboxed page, a file:// page) does not parse as a URL and is refused with the rest.
    originHost = new URL(origin).host.toLowerCase();
  } catch {
    originHost = null;
  }
  if (originHost !== null && host !== undefined && originHost === host) return null;
  return { status: 403, message: `requests from another site may not change the cluster (Origin ${JSON.stringify(origin.slice(0, 100))})` };
}

/**
 * 403 for a request from another site, 415 for a body that is not declared JSON. patronictl sends
 * its JSON bodies without a Content-Type; it is recognised by its User-Agent, which a browser page
 * cannot set without a CORS preflight this API never grants.
 */
export function checkCrossSite(headers: IncomingHttpHeaders): CrossSiteDenial | null {
  const denied = originDenial(headers);
  if (denied) return denied;
  const contentType = header(headers, 'content-type');
  if (contentType !== undefined) {
    if (isJsonType(contentType)) return null;
    return { status: 415, message: `Content-Type must be application/json, got ${JSON.stringify(contentType.slice(0, 100))}` };
  }
  if (!hasBody(headers)) return null;
  if (header(headers, 'user-agent')?.startsWith('Patroni/') === true) return null;
  return { status: 415, message: 'Content-Type must be application/json for a request with a body' };
}
