// SCRAM-SHA-256 verifiers computed here, so that role passwords reach PostgreSQL only in hashed
// form: CREATE/ALTER ROLE ... PASSWORD '<verifier>' never carries the cleartext to the server
// (or to its log, whatever log_statement says).
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';

export const SCRAM_ITERATIONS = 4096;

/** PostgreSQL's stored form: SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey> (base64). */
export function scramVerifier(password: string, salt: Buffer = randomBytes(16), iterations = SCRAM_ITERATIONS): string {
  // SASLprep is the identity for the printable ASCII passwords operators use; PostgreSQL itself
  // falls back to the raw bytes when a password is not valid for SASLprep, as we do here.
  const salted = pbkdf2Sync(Buffer.from(password.normalize('NFKC'), 'utf8'), salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}
