// The pgpass file on disk: scoped to the replica's upstream and the local node, rewritten before
// the replica include names a new upstream, and kept in step by every other rewrite.
import { readFileSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PgError } from '../../../src/postgres/errors.js';
import { writeMainConf, writePgpass, writeReplicaConf } from '../../../src/postgres/managed-files.js';
import { replicaSettings } from '../../../src/postgres/follow.js';
import { pgPaths } from '../../../src/postgres/paths.js';
import { testConfig } from './fixtures.js';

const logger = pino({ level: 'silent' });
let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pgha-pgpass-'));
  await mkdir(join(dir, 'data'), { mode: 0o700 });
  await writeFile(join(dir, 'data', 'PG_VERSION'), '15\n');
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const config = () => testConfig({ dataDir: join(dir, 'data'), pgpass: join(dir, 'pgpass'), port: 5440 });
const pgpass = (): string => readFileSync(join(dir, 'pgpass'), 'utf8');
const node2 = { host: '10.0.0.2', port: 5432, name: 'node2' };
const node3 = { host: 'db3.example', port: 6000, name: 'node3' };

describe('the pgpass file on disk', () => {
  it('holds the upstream of the replica include, written before it, mode 0600', async () => {
    const c = config();
    await writeReplicaConf(c, 'replica', replicaSettings(c, null, node2), null);
    expect(pgpass()).toMatch(/^10\.0\.0\.2:5432:\*:replicator:rep-pass$/m);
    expect(pgpass()).not.toMatch(/^\*/m);
    expect(statSync(join(dir, 'pgpass')).mode & 0o777).toBe(0o600);

    // A new upstream replaces the old one: the old leader gets no password any more.
    await writeReplicaConf(c, 'replica', replicaSettings(c, null, node3), null);
    expect(pgpass()).toMatch(/^db3\.example:6000:\*:replicator:rep-pass$/m);
    expect(pgpass()).not.toContain('10.0.0.2');
  });

  it('keeps the running replica\'s upstream when the main configuration is rewritten', async () => {
    const c = config();
    await writeReplicaConf(c, 'replica', replicaSettings(c, null, node2), null);
    const before = pgpass();
    const res = await writeMainConf(c, null, logger, null, null);
    expect(res.changed).not.toContain('pgpass');
    expect(pgpass()).toBe(before);
  });

  it('replaces a wildcard file of an earlier version, keeping the upstream', async () => {
    const c = config();
    await writeReplicaConf(c, 'replica', replicaSettings(c, null, node2), null);
    await writeFile(join(dir, 'pgpass'), '*:*:*:replicator:rep-pass\n*:*:*:postgres:su-secret\n', { mode: 0o600 });
    const res = await writeMainConf(c, null, logger, null, null);
    expect(res.changed).toContain('pgpass');
    expect(pgpass()).not.toMatch(/^\*/m);
    expect(pgpass()).toMatch(/^10\.0\.0\.2:5432:\*:replicator:rep-pass$/m);
  });

  it('has no replication line on a primary or a nostream replica', async () => {
    const c = config();
    await writeReplicaConf(c, 'primary', null, null);
    expect(pgpass()).not.toContain('rep-pass');
    expect(pgpass()).toMatch(/^127\.0\.0\.1:5440:\*:postgres:su-secret$/m);
    const nostream = { ...c, tags: { nostream: true } };
    await writeReplicaConf(nostream, 'replica', replicaSettings(nostream, null, node2), null);
    expect(pgpass()).not.toContain('rep-pass');
  });

  it('names only the target of a command about to run when asked to', async () => {
    const c = config();
    await writeReplicaConf(c, 'replica', replicaSettings(c, null, node2), null);
    await writePgpass(c, null, { upstream: null, extra: [{ ...node3, credentials: c.postgresql.authentication.rewind! }] });
    expect(pgpass()).toMatch(/^db3\.example:6000:\*:rewind_user:rw-secret$/m);
    expect(pgpass()).not.toContain('10.0.0.2');
  });

  it('refuses an upstream with a line break and leaves both files as they were', async () => {
    const c = config();
    await writeReplicaConf(c, 'replica', replicaSettings(c, null, node2), null);
    const pass = pgpass();
    const include = readFileSync(pgPaths(c).replicaConf, 'utf8');
    const evil = { host: '10.0.0.9\n*:*:*:replicator:x', port: 5432, name: 'node9' };
    const err = await writeReplicaConf(c, 'replica', replicaSettings(c, null, evil), null).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PgError);
    expect((err as PgError).code).toBe('bad-upstream');
    expect(pgpass()).toBe(pass);
    expect(readFileSync(pgPaths(c).replicaConf, 'utf8')).toBe(include);
  });
});
