// File-system helpers for the data directory: state, ownership, postmaster.pid, owned writes.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { chown, mkdir, open, readdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { PgError } from './errors.js';

/** 'foreign': has entries but no PG_VERSION (a partial copy, lost+found): never ours to wipe. */
export type DataDirState = 'missing' | 'empty' | 'foreign' | 'initialized';

export async function dataDirState(dataDir: string): Promise<DataDirState> {
  let entries: string[];
  try {
    entries = await readdir(dataDir);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return 'missing';
    throw err;
  }
  if (entries.length === 0) return 'empty';
  return entries.includes('PG_VERSION') ? 'initialized' : 'foreign';
}

export async function listDir(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return [];
    throw err;
  }
}

export function isErrno(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}

export async function fileExists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return false;
    throw err;
  }
}

export interface Owner {
  readonly uid: number;
  readonly gid: number;
}

/** The data directory must belong to the user PostgreSQL runs as; say which path when it does not. */
export async function checkDataDirOwner(dataDir: string, expectedUid: number): Promise<Owner> {
  let st;
  try {
    st = await stat(dataDir);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) {
      throw new PgError('data-dir-missing', `data directory does not exist: ${dataDir}`, { cause: err, retryable: false });
    }
    throw err;
  }
  if (!st.isDirectory()) {
    throw new PgError('data-dir-owner', `data directory is not a directory: ${dataDir}`, { retryable: false });
  }
  if (st.uid !== expectedUid) {
    throw new PgError(
      'data-dir-owner',
      `data directory ${dataDir} is owned by uid ${st.uid}, but PostgreSQL runs as uid ${expectedUid}`,
      { retryable: false },
    );
  }
  return { uid: st.uid, gid: st.gid };
}

/**
 * Write a file atomically (temp + rename) with the given mode, owned by `owner` when this process
 * is root (tests); the agent itself runs as the data directory's owner and needs no chown.
 * The temp file gets a random name and is created exclusively (O_EXCL refuses an existing file or
 * symlink someone placed there) with its mode set explicitly, whatever the umask: it may hold
 * passwords (pgpass) and may live in a directory others can write to (issue 13).
 */
export async function writeOwnedFile(path: string, content: string, mode: number, owner: Owner | null): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${randomBytes(8).toString('hex')}`);
  const fh = await open(tmp, 'wx', mode);
  try {
    await fh.chmod(mode);
    if (owner && process.getuid?.() === 0) await fh.chown(owner.uid, owner.gid);
    await fh.writeFile(content);
    await fh.sync();
  } catch (err) {
    await fh.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await fh.close();
  try {
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
}

/** Write only when the content differs; returns whether it changed. */
export async function writeIfChanged(path: string, content: string, mode: number, owner: Owner | null): Promise<boolean> {
  try {
    if ((await readFile(path, 'utf8')) === content) return false;
  } catch (err) {
    if (!isErrno(err, 'ENOENT')) throw err;
  }
  await writeOwnedFile(path, content, mode, owner);
  return true;
}

export async function ownerOf(path: string): Promise<Owner> {
  const st = await stat(path);
  return { uid: st.uid, gid: st.gid };
}

export async function makeOwnedDir(path: string, owner: Owner | null): Promise<void> {
  await mkdir(path, { mode: 0o700 });
  if (owner && process.getuid?.() === 0) await chown(path, owner.uid, owner.gid);
}

/** The postmaster PID from postmaster.pid (first line), synchronously: the fence path uses it. */
export function readPostmasterPidSync(pidFile: string): number | null {
  let text: string;
  try {
    text = readFileSync(pidFile, 'utf8');
  } catch {
    return null;
  }
  const first = text.split('\n', 1)[0]?.trim() ?? '';
  return /^\d+$/.test(first) ? Number(first) : null;
}

/**
 * Alive and (where /proc says) a postgres process that is not a zombie, so neither a recycled
 * PID nor an unreaped corpse is mistaken for a running postmaster.
 */
export function isPostmasterAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if (!isErrno(err, 'EPERM')) return false;
  }
  const stat = procStat(pid);
  // No /proc (not Linux): trust kill(0). With /proc, a vanished entry means it just exited.
  if (stat === 'gone') return !procAvailable();
  if (stat === null) return true;
  if (stat.state === 'Z' || stat.state === 'X') return false;
  return stat.comm.startsWith('postgres') || stat.comm.startsWith('postmaster');
}

/** True when `pid` is a zombie: exited, not yet reaped by its parent (false without /proc). */
export function isZombie(pid: number): boolean {
  const stat = procStat(pid);
  return stat !== null && stat !== 'gone' && stat.state === 'Z';
}

/** Command name and state from /proc/<pid>/stat; 'gone' when there is no such entry, null when unreadable. */
function procStat(pid: number): { comm: string; state: string } | 'gone' | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch (err) {
    return isErrno(err, 'ENOENT') ? 'gone' : null;
  }
  const m = /^\d+ \((.*)\) (\S)/s.exec(text);
  return m?.[1] === undefined || m[2] === undefined ? null : { comm: m[1], state: m[2] };
}

export const REAP_WAIT_MS = 10_000;

/**
 * A postmaster that exited (a fence's SIGKILL, a crash) keeps its PID until its parent reaps it,
 * often PID 1, which may take its time. PostgreSQL's own lock-file check (kill(pid, 0)) counts that
 * corpse as a live server and refuses to start in the data directory, although nothing runs.
 * Waits, bounded, until the PID named in postmaster.pid is no zombie; returns it if it still is.
 */
export async function awaitPostmasterReaped(pidFile: string, boundMs = REAP_WAIT_MS): Promise<number | null> {
  const pid = readPostmasterPidSync(pidFile);
  if (pid === null) return null;
  const until = performance.now() + boundMs;
  while (isZombie(pid)) {
    if (performance.now() >= until) return pid;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return null;
}

/** PIDs whose parent is `pid` (from /proc; empty where there is no /proc). */
export function childPidsOf(pid: number): number[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  const out: number[] = [];
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(e));
    } catch {
      // Exited while we looked.
    }
  }
  return out;
}

let procChecked: boolean | null = null;
function procAvailable(): boolean {
  if (procChecked === null) {
    try {
      readFileSync('/proc/self/stat');
      procChecked = true;
    } catch {
      procChecked = false;
    }
  }
  return procChecked;
}

/** The running postmaster's PID, or null when there is no postmaster.pid or its process is gone. */
export function runningPostmasterPid(pidFile: string): number | null {
  const pid = readPostmasterPidSync(pidFile);
  return pid !== null && isPostmasterAlive(pid) ? pid : null;
}

/** Size of a file, 0 when absent: where a log tail for this attempt starts. */
export async function fileSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return 0;
    throw err;
  }
}

/** The last `maxLines` lines written to `path` after byte `from` (bounded read). */
export async function tailFile(path: string, from: number, maxLines = 20, maxBytes = 16_384): Promise<string> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return '';
    throw err;
  }
  try {
    const size = (await fh.stat()).size;
    const start = Math.max(from > size ? 0 : from, size - maxBytes);
    const buf = Buffer.alloc(size - start);
    await fh.read(buf, 0, buf.length, start);
    return buf.toString('utf8').split('\n').filter((l) => l.trim() !== '').slice(-maxLines).join('\n');
  } finally {
    await fh.close();
  }
}

/**
 * What the fence enforcers arm on (S1), read straight from the data directory: a live postmaster,
 * and whether it may accept writes (no standby.signal). Shared by the agent and its guard process.
 */
export function postmasterWriteState(dataDir: string): { readonly alive: boolean; readonly mayBeWritable: boolean } {
  const alive = runningPostmasterPid(join(dataDir, 'postmaster.pid')) !== null;
  return { alive, mayBeWritable: alive && !existsSync(join(dataDir, 'standby.signal')) };
}
