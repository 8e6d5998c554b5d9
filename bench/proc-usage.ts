// CPU time and resident memory of a process from /proc (Linux only), for idle-cost figures and
// for the CPU a process spends under load.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let clockTicks: number | null = null;

/** USER_HZ (utime/stime units in /proc/<pid>/stat), almost always 100. */
function ticksPerSecond(): number {
  clockTicks ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  return clockTicks;
}

export interface CpuSample {
  readonly cpuSec: number;
  readonly atMs: number;
}

/** User + system CPU seconds the process has used so far. */
export function cpuSample(pid: number): CpuSample {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may contain spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error(`cannot parse /proc/${pid}/stat`);
  return { cpuSec: (utime + stime) / ticksPerSecond(), atMs: performance.now() };
}

/** CPU use between two samples, in percent of one core. */
export function cpuPercent(a: CpuSample, b: CpuSample): number {
  const wallSec = (b.atMs - a.atMs) / 1000;
  return wallSec > 0 ? ((b.cpuSec - a.cpuSec) / wallSec) * 100 : Number.NaN;
}

/** Resident set size (VmRSS) in bytes. */
export function rssBytes(pid: number): number {
  const m = /^VmRSS:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}
