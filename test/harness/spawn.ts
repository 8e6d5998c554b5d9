// spawnTracked: start a program (an agent, a helper) as a tracked child process, with its
// stdout+stderr in a log file and the fault controls tests need (stop, kill -9, SIGSTOP/SIGCONT).
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import {
  accessSync, closeSync, constants, createWriteStream, fstatSync, openSync, readSync,
} from 'node:fs';
import { basename, delimiter, join } from 'node:path';
import { procStat, signalPid, sleepSync } from './proc.js';
import { runSubdir } from './run-dir.js';
import type { ProcessKind } from './track.js';
import { trackProcess } from './track.js';
import { postgresEnv, postgresSpawnIds } from './users.js';

export interface SpawnOptions {
  name?: string;
  cwd?: string;
  /** Full environment for the child (default: this process's). */
  env?: NodeJS.ProcessEnv;
  /** Run as the postgres OS user (direct setuid when root: the PID is the program's own). */
  user?: 'postgres';
  /** Where stdout+stderr go (appended); default <run>/logs/<name>-<n>.log. */
  logFile?: string;
  /** 'file' (default): the child writes straight to logFile. 'pipe': child.stdout/stderr are
   * readable streams, also copied to logFile. */
  stdio?: 'file' | 'pipe';
  kind?: ProcessKind;
  /** Signal used by stop() without an argument and at teardown; default SIGTERM. */
  stopSignal?: NodeJS.Signals;
  /** How long stop() waits before SIGKILL; default 10 s. */
  stopTimeoutMs?: number;
  /** Signal used at teardown if the process still runs (default stopSignal). */
  teardownSignal?: NodeJS.Signals;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface TrackedProcess {
  readonly pid: number;
  readonly name: string;
  readonly child: ChildProcess;
  readonly logFile: string;
  /** Exit status once the process has exited, else null. */
  exitInfo(): ExitInfo | null;
  /** Sends `signal` (default stopSignal) and SIGCONT, waits stopTimeoutMs, then SIGKILL. */
  stop(signal?: NodeJS.Signals): Promise<ExitInfo>;
  /** SIGKILL and wait for the exit. */
  kill(): Promise<ExitInfo>;
  signal(signal: NodeJS.Signals): void;
  /** SIGSTOP / SIGCONT; return once /proc shows the process stopped / running again. */
  pause(): void;
  resume(): void;
  /** Resolves with the exit status; rejects after timeoutMs (default 30 s) if still running. */
  waitExit(timeoutMs?: number): Promise<ExitInfo>;
  /** The last maxBytes (default 16 KiB) of captured stdout+stderr. */
  output(maxBytes?: number): string;
}

let spawnCounter = 0;

/** Starts argv[0] with argv[1..], tracked until it exits (and stopped at teardown if it has not). */
export function spawnTracked(argv: readonly string[], opts: SpawnOptions = {}): TrackedProcess {
  const [cmd, ...args] = argv;
  if (cmd === undefined || cmd === '') throw new Error('spawnTracked: argv must name a command');
  const resolved = resolveCommand(cmd);
  const name = opts.name ?? basename(cmd);
  spawnCounter += 1;
  const logFile = opts.logFile ?? join(runSubdir('logs'), `${name}-${process.pid}-${spawnCounter}.log`);
  const fd = openSync(logFile, 'a');
  const asPostgres = opts.user === 'postgres';
  let child: ChildProcess;
  try {
    child = spawn(resolved, args, {
      cwd: opts.cwd ?? '/',
      env: asPostgres ? postgresEnv(opts.env ?? process.env) : (opts.env ?? process.env),
      stdio: opts.stdio === 'pipe' ? ['ignore', 'pipe', 'pipe'] : ['ignore', fd, fd],
      ...(asPostgres ? postgresSpawnIds() : {}),
    });
  } finally {
    closeSync(fd);
  }
  if (child.pid === undefined) throw new Error(`spawnTracked: could not start ${cmd}`);
  if (opts.stdio === 'pipe') teeToFile(child, logFile);
  return makeTracked(child, child.pid, name, logFile, argv, opts);
}

function makeTracked(child: ChildProcess, pid: number, name: string, logFile: string,
  argv: readonly string[], opts: SpawnOptions): TrackedProcess {
  let exit: ExitInfo | null = null;
  const exited = new Promise<ExitInfo>((resolve) => {
    child.once('exit', (code, signal) => {
      exit = { code, signal };
      handle.release();
      resolve(exit);
    });
  });
  // A spawn failure after the PID was assigned shows up as 'error' then 'exit'; keep it from
  // crashing the worker as an unhandled 'error' event.
  child.on('error', () => undefined);
  const stopSignal = opts.stopSignal ?? 'SIGTERM';
  const stopTimeoutMs = opts.stopTimeoutMs ?? 10_000;
  const waitExit = async (timeoutMs = 30_000): Promise<ExitInfo> => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${name} (pid ${pid}) still running after ${timeoutMs}ms`)), timeoutMs);
    });
    try {
      return await Promise.race([exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  };
  const stop = async (signal: NodeJS.Signals = stopSignal): Promise<ExitInfo> => {
    if (exit !== null) return exit;
    signalPid(pid, signal);
    signalPid(pid, 'SIGCONT'); // a paused process would never act on the signal
    try {
      return await waitExit(stopTimeoutMs);
    } catch {
      // A process that ignores its stop signal is a finding: show what it was doing.
      console.error(`${name} (pid ${pid}) did not exit within ${stopTimeoutMs} ms of ${signal}; killing it. Its last output:\n${readTail(logFile, 8_192)}`);
      signalPid(pid, 'SIGKILL');
      return waitExit(10_000);
    }
  };
  const handle = trackProcess({
    pid, name, kind: opts.kind ?? 'process', stopSignal, argv,
    stop: async () => { await stop(opts.teardownSignal ?? stopSignal); },
  });
  return {
    pid, name, child, logFile,
    exitInfo: () => exit,
    stop,
    kill: () => stop('SIGKILL'),
    signal: (s) => { signalPid(pid, s); },
    pause: () => { pausePid(pid, name); },
    resume: () => { resumePid(pid, name); },
    waitExit,
    output: (maxBytes = 16_384) => readTail(logFile, maxBytes),
  };
}

/** SIGSTOP, then waits (briefly, synchronously) until the kernel reports the process stopped. */
export function pausePid(pid: number, name = `pid ${pid}`): void {
  if (!signalPid(pid, 'SIGSTOP')) throw new Error(`cannot pause ${name}: not running`);
  waitStateSync(pid, (s) => s === 'T', `${name} to stop after SIGSTOP`);
}

/** SIGCONT, then waits until the process is no longer in the stopped state. */
export function resumePid(pid: number, name = `pid ${pid}`): void {
  if (!signalPid(pid, 'SIGCONT')) throw new Error(`cannot resume ${name}: not running`);
  waitStateSync(pid, (s) => s !== 'T', `${name} to run after SIGCONT`);
}

function waitStateSync(pid: number, ok: (state: string) => boolean, what: string): void {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const st = procStat(pid);
    if (st === null || st.state === 'Z' || ok(st.state)) return;
    if (Date.now() > deadline) throw new Error(`timed out after 5000ms waiting for ${what}`);
    sleepSync(2);
  }
}

function teeToFile(child: ChildProcess, logFile: string): void {
  const out = createWriteStream(logFile, { flags: 'a' });
  out.on('error', () => undefined);
  child.stdout?.on('data', (chunk: Buffer) => out.write(chunk));
  child.stderr?.on('data', (chunk: Buffer) => out.write(chunk));
  child.once('close', () => out.end());
}

/** The last maxBytes of a file as text ('' if it does not exist). */
export function readTail(file: string, maxBytes = 16_384): string {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return '';
  }
  try {
    const size = fstatSync(fd).size;
    const len = Math.min(size, maxBytes);
    const buf = Buffer.alloc(len);
    readSync(fd, buf, 0, len, size - len);
    return buf.toString('utf8');
  } finally {
    closeSync(fd);
  }
}

function resolveCommand(cmd: string): string {
  const candidates = cmd.includes('/') ? [cmd]
    : (process.env.PATH ?? '').split(delimiter).filter((d) => d !== '').map((d) => join(d, cmd));
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      // try the next PATH entry
    }
  }
  throw new Error(`spawnTracked: command ${cmd} not found or not executable` +
    (cmd.includes('/') ? '' : ' on PATH'));
}
