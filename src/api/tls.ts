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
