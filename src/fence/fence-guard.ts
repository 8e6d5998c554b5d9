// The fence guard (S1): a tiny process that holds the agent's lease deadline and stops PostgreSQL
// when it passes without a newer one, so a frozen or killed agent never leaves a writable primary
// behind. Usage: fence-guard <data_dir>. Messages arrive as JSON lines on stdin.
// This module is the guard process: Node's timers, signals and files around GuardLogic
// (guard-logic.ts). Importing it starts guarding (src/bin/fence-guard.ts is its entry); nothing
// else may import it.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { encodeHandover, parseGuardMessage, parseHandover, type HandoverParse } from './fence-guard-protocol.js';
import { GuardLogic, type GuardState } from './guard-logic.js';
import { systemClock } from '../time/clock.js';
import { systemTimers } from '../time/timers.js';
import { FENCE_KILL_AFTER_MS } from '../core/fencing.js';
import { isPostmasterAlive, postmasterWriteState, readPostmasterPidSync } from '../postgres/files.js';
import { signalPostmasterTree } from '../postgres/pgctl.js';

const dataDir = process.argv[2];
if (!dataDir) {
  process.stderr.write('usage: fence-guard <data_dir>\n');
  process.exit(2);
}

// Handover between guards: a guard left behind by a killed or restarted agent still holds that
// agent's deadline. The guard of the next agent takes its state over and retires it, so the old
// one does not fence the PostgreSQL the new agent has since proven its lease for. The state file
// is versioned (fence-guard-protocol.ts): it is read by a later, maybe upgraded, agent run.
const stateFile = join(dirname(dataDir), `.${basename(dataDir)}.fence-guard.json`);

function saveState(state: GuardState): void {
  try {
    const tmp = `${stateFile}.${process.pid}`;
    writeFileSync(tmp, encodeHandover({ pid: process.pid, ...state }));
    renameSync(tmp, stateFile);
  } catch {
    // No handover without a writable parent directory; fencing itself does not depend on it.
  }
}

function readState(): HandoverParse | null {
  try {
    return parseHandover(readFileSync(stateFile, 'utf8'));
  } catch {
    return null; // No previous guard.
  }
}

function isGuard(pid: number): boolean {
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return cmdline.includes('fence-guard') && cmdline.includes(dataDir as string);
  } catch {
    return false;
  }
}

const log = (msg: string, fields: Record<string, unknown> = {}) =>
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), component: 'fence-guard', msg, ...fields })}\n`);

const pidFile = join(dataDir, 'postmaster.pid');
const alive = (pid: number): boolean => isPostmasterAlive(pid);

/** Signal first, log after: the margin between our deadline and etcd's expiry is for the stop, not for I/O. */
async function fence(lateMs: number): Promise<void> {
  const pid = readPostmasterPidSync(pidFile);
  if (pid === null || !alive(pid)) {
    log('lease deadline passed without a newer one; postgresql is not running', { lateMs });
    return;
  }
  process.kill(pid, 'SIGQUIT'); // immediate shutdown, as pg_ctl stop -m immediate
  log('lease deadline passed without a newer one: fencing postgresql', { pid, lateMs });
  const until = systemClock.monoMs() + FENCE_KILL_AFTER_MS;
  while (alive(pid) && systemClock.monoMs() < until) await new Promise((r) => setTimeout(r, 10));
  if (alive(pid)) {
    // Backends run in sessions of their own: kill each, not just the postmaster, so none can
    // finish a commit after the deadline.
    signalPostmasterTree(pid, 'SIGKILL');
    log('immediate shutdown did not finish in time: SIGKILL of the postmaster and its children', { pid, afterMs: FENCE_KILL_AFTER_MS });
  }
}

const guard = new GuardLogic({
  clock: systemClock, timers: systemTimers, fence, save: saveState, log,
  postmasterAlive: () => postmasterWriteState(dataDir).alive,
  exit: () => process.exit(0),
});

// Retired by a newer guard (which now holds our deadline): leave without fencing.
process.on('SIGTERM', () => process.exit(0));
// The guard shares the agent's systemd cgroup: a signal meant for the agent (`systemctl kill -s
// SIGUSR2` without --kill-whom=main, SIGHUP) must not end the guard by Node's default action.
for (const sig of ['SIGHUP', 'SIGUSR1', 'SIGUSR2', 'SIGINT'] as const) process.on(sig, () => log('signal ignored (meant for the agent)', { signal: sig }));

const previous = guard.takeOver(readState(), process.pid, isGuard);
if (previous !== null) {
  try {
    process.kill(previous, 'SIGTERM');
  } catch {
    // It ended meanwhile.
  }
}
guard.start();

createInterface({ input: process.stdin }).on('line', (line) => {
  const msg = parseGuardMessage(line);
  if (!msg) return log('ignoring malformed message', { line: line.slice(0, 200) });
  guard.message(msg);
}).on('close', () => guard.channelClosed());
