// writeOwnedFile (pgpass, postgresql.conf, ...): the temp file must not be one someone prepared.
// The old code wrote to `.<name>.tmp-<pid>` with O_TRUNC: through a planted symlink, or into a
// planted world-readable file that then became the pgpass (issue 13).
import { chmodSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { writeIfChanged, writeOwnedFile } from '../../../src/postgres/files.js';

let dir = '';
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('writeOwnedFile', () => {
  it('does not write through a symlink planted at the predictable temp name', async () => {
    dir = mkdtempSync(join(tmpdir(), 'files-'));
    const stolen = join(dir, 'stolen');
    writeFileSync(stolen, '');
    symlinkSync(stolen, join(dir, `.pgpass.tmp-${process.pid}`));
    await writeOwnedFile(join(dir, 'pgpass'), '*:*:*:u:secret\n', 0o600, null);
    expect(readFileSync(stolen, 'utf8')).toBe('');
    expect(readFileSync(join(dir, 'pgpass'), 'utf8')).toBe('*:*:*:u:secret\n');
  });

  it('the file gets the mode asked for even when a world-readable file was planted at the temp name', async () => {
    dir = mkdtempSync(join(tmpdir(), 'files-'));
    const planted = join(dir, `.pgpass.tmp-${process.pid}`);
    writeFileSync(planted, '');
    chmodSync(planted, 0o666);
    await writeIfChanged(join(dir, 'pgpass'), 'x:1:y:u:secret\n', 0o600, null);
    expect(statSync(join(dir, 'pgpass')).mode & 0o777).toBe(0o600);
    // No temp file of ours is left behind.
    expect(readdirSync(dir).sort()).toEqual([`.pgpass.tmp-${process.pid}`, 'pgpass']);
  });
});
