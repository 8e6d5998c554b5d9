import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/config/errors.js';
import { parseConfig } from '../../../src/config/load.js';
import { REDACTED, redactConfig } from '../../../src/config/redact.js';
import { edit, fakeProbe } from './helpers.js';

const SECRETS = ['super-Secret-1', 'rep-Secret-2', 'rest-Secret-3', 'etcd-Secret-4', 'key-Secret-5', 'ssl-Secret-6'];
const opts = { probe: fakeProbe({ files: ['/c.pem', '/k.pem'] }) };

function withSecrets(...extra: [string, unknown][]) {
  return edit(
    ['restapi.authentication', { username: 'api', password: 'rest-Secret-3' }],
    ['restapi.certfile', '/c.pem'], ['restapi.keyfile', '/k.pem'], ['restapi.keyfile_password', 'key-Secret-5'],
    ['etcd3.username', 'root'], ['etcd3.password', 'etcd-Secret-4'],
    ['postgresql.authentication.rewind', { username: 'rw', sslpassword: 'ssl-Secret-6' }],
    ...extra,
  );
}

describe('passwords', () => {
  it('never appear in ConfigError messages, even when a password key is wrong', () => {
    const input = withSecrets(
      ['postgresql.authentication.superuser', 'postgres:super-Secret-1'], // a string instead of a mapping
      ['postgresql.authentication.replication.password', ['rep-Secret-2']],
      ['restapi.password', 'rest-Secret-3'], // unknown key holding a secret
      ['etcd3.hosts', 'user:etcd-Secret-4@host:2379'],
    );
    let error: unknown;
    try {
      parseConfig(input, { PGHA_SUPERUSER_PASSWORD: 'x' }, opts);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const text = `${(error as ConfigError).message}\n${JSON.stringify((error as ConfigError).problems)}`;
    expect((error as ConfigError).problems.length).toBeGreaterThanOrEqual(3);
    for (const s of SECRETS) expect(text).not.toContain(s);
  });

  it('are replaced by ***** in redactConfig, everything else kept', () => {
    const config = parseConfig(withSecrets(), {}, opts);
    const shown = redactConfig(config);
    const text = JSON.stringify(shown);
    for (const s of SECRETS) expect(text).not.toContain(s);
    expect(shown.postgresql.authentication.superuser).toEqual({ username: 'postgres', password: REDACTED });
    expect(shown.restapi.authentication).toEqual({ username: 'api', password: REDACTED });
    expect(shown.restapi.keyfile_password).toBe(REDACTED);
    expect(shown.etcd3.password).toBe(REDACTED);
    expect(shown.postgresql.authentication.rewind?.sslpassword).toBe(REDACTED);
    expect(shown.postgresql.data_dir).toBe(config.postgresql.data_dir);
    // The original is untouched and both are frozen.
    expect(config.etcd3.password).toBe('etcd-Secret-4');
    expect(Object.isFrozen(shown.postgresql.authentication)).toBe(true);
  });
});
