// Synchronous /proc helpers (Linux). Synchronous on purpose: they also run in process 'exit'
// handlers, where nothing asynchronous gets a chance to run.
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

export interface ProcStat {
  readonly state: string;
  readonly ppid: number;
  /** Start time in clock ticks since boot: with the PID, identifies a process across PID reuse. */
  readonly startTicks: number;
}

export function procStat(pid: number): ProcStat | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name is in parentheses and may itself contain spaces or parentheses.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const state = fields[0];
  const ppid = Number(fields[1]);
  const startTicks = Number(fields[19]);
  if (state === undefined || !Number.isFinite(ppid) || !Number.isFinite(startTicks)) return null;
  return { state, ppid, startTicks };
}

/** True when the process exists and is not a zombie (and, if given, started at startTicks). */
export function isAlive(pid: number, startTicks?: number): boolean {
  const st = procStat(pid);
  if (st === null || st.state === 'Z' || st.state === 'X') return false;
  return startTicks === undefined || st.startTicks === startTicks;
}

export function childPids(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const st = procStat(Number(entry));
    if (st !== null && st.ppid === pid) out.push(Number(entry));
  }
  return out;
}

export function procCwd(pid: number): string | null {
  try {
    return readlinkSync(`/proc/${pid}/cwd`);
  } catch {
    return null;
  }
}

/** Sends a signal; false when the process is already gone. */
export function signalPid(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw err;
  }
}

export function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Stops a process synchronously: `first` signal, up to graceMs for it to go, then SIGKILL and up to
 * 5 s more. Returns true when it is gone.
 */
export function stopPidSync(pid: number, startTicks: number | undefined, first: NodeJS.Signals,
  graceMs: number): boolean {
  if (!isAlive(pid, startTicks)) return true;
  signalPid(pid, first);
  if (first !== 'SIGKILL') signalPid(pid, 'SIGCONT');
  if (waitDeadSync(pid, startTicks, graceMs)) return true;
  signalPid(pid, 'SIGKILL');
  return waitDeadSync(pid, startTicks, 5_000);
}

function waitDeadSync(pid: number, startTicks: number | undefined, ms: number): boolean {
  const deadline = Date.now() + ms;
  while (isAlive(pid, startTicks)) {
    if (Date.now() > deadline) return false;
    sleepSync(20);
  }
  return true;
}
