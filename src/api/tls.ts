// TLS options for the REST API from the restapi config (Patroni's certfile/keyfile/cafile/
// verify_client). Read once at start-up; a missing or unreadable file is an error naming the key.
import { readFileSync } from 'node:fs';
import type { SecureContextOptions, TlsOptions } from 'node:tls';
import type { RestApiConfig } from '../config/types.js';

export type HttpsOptions = Pick<TlsOptions, 'requestCert' | 'rejectUnauthorized'> &
  Pick<SecureContextOptions, 'cert' | 'key' | 'ca' | 'passphrase'>;

export type ReadFile = (path: string) => Buffer;

function read(key: string, path: string, readFile: ReadFile): Buffer {
  try {
    return readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new Error(`restapi.${key}: cannot read '${path}' (${code})`, { cause: err });
  }
}

/**
 * null when the API serves plain HTTP (no certfile). verify_client: `required` makes the TLS
 * handshake itself refuse clients without a certificate the CA signed; `optional` asks for one and
 * lets the access check refuse mutating requests without it (as Patroni does).
 */
export function buildHttpsOptions(restapi: RestApiConfig, readFile: ReadFile = readFileSync): HttpsOptions | null {
  if (restapi.certfile === undefined) {
    if (restapi.keyfile !== undefined || restapi.cafile !== undefined) {
      throw new Error('restapi.certfile is required when restapi.keyfile or restapi.cafile is set');
    }
    return null;
  }
  const cert = read('certfile', restapi.certfile, readFile);
  // Patroni allows the key to live in the certfile (one PEM bundle).
  const key = restapi.keyfile === undefined ? cert : read('keyfile', restapi.keyfile, readFile);
  const mode = restapi.verify_client ?? 'none';
  // Without a cafile Node verifies client certificates against its default CAs, like Patroni.
  const ca = restapi.cafile === undefined ? undefined : read('cafile', restapi.cafile, readFile);
  return {
    cert,
    key,
    ...(ca !== undefined ? { ca } : {}),
    ...(restapi.keyfile_password !== undefined ? { passphrase: restapi.keyfile_password } : {}),
    requestCert: mode !== 'none',
    rejectUnauthorized: mode === 'required',
  };
}

export type TlsReload =
  | { readonly kind: 'plain' }
  | { readonly kind: 'applied' }
  | { readonly kind: 'restart'; readonly reason: string };

/**
 * Re-reads the certificate, key and CA on a reload (rotated files keep their paths), so a new
 * certificate or CA applies to new connections without a restart. Switching TLS on or off, or
 * changing verify_client, changes how the server itself was built: that needs a restart, and says so.
 * Throws (naming the key) when a file cannot be read; the server keeps its current context then.
 */
export function reloadTls(
  server: { setSecureContext?: (options: SecureContextOptions) => void },
  before: RestApiConfig,
  after: RestApiConfig,
  readFile: ReadFile = readFileSync,
): TlsReload {
  const wasTls = before.certfile !== undefined;
  const isTls = after.certfile !== undefined;
  if (wasTls !== isTls) return { kind: 'restart', reason: `restapi.certfile was ${wasTls ? 'removed' : 'added'}` };
  if (!isTls) return { kind: 'plain' };
  if ((before.verify_client ?? 'none') !== (after.verify_client ?? 'none')) {
    return { kind: 'restart', reason: 'restapi.verify_client changed' };
  }
  const next = buildHttpsOptions(after, readFile);
  if (!next || typeof server.setSecureContext !== 'function') return { kind: 'restart', reason: 'the server cannot swap its TLS context' };
  server.setSecureContext({ cert: next.cert, key: next.key, ...(next.ca !== undefined ? { ca: next.ca } : {}),
    ...(next.passphrase !== undefined ? { passphrase: next.passphrase } : {}) });
  return { kind: 'applied' };
}
