// The fence guard (S1): a tiny process that holds the agent's lease deadline and stops PostgreSQL
// when it passes without a newer one, so a frozen or killed agent never leaves a writable primary
// behind. Usage: fence-guard <data_dir>. Messages arrive as JSON lines on stdin.
// This module is the guard process itself: importing it starts guarding (src/bin/fence-guard.ts
// is its entry); nothing else may import it.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { encodeHandover, parseGuardMessage, parseHandover } from './fence-guard-protocol.js';
import { systemClock } from '../loop/clock.js';
import { FENCE_KILL_AFTER_MS } from '../core/fencing.js';
import { isPostmasterAlive, postmasterWriteState, readPostmasterPidSync } from '../postgres/files.js';
import { signalPostmasterTree } from '../postgres/pgctl.js';

const dataDir = process.argv[2];
if (!dataDir) {
  process.stderr.write('usage: fence-guard <data_dir>\n');
  process.exit(2);
}

let armed = false;
let deadline = -Infinity;
let agentGone = false;
/** The lease the leader key was last proven under (hand-over proof for the next agent run). */
let leaseId: string | null = null;

// Handover between guards: a guard left behind by a killed or restarted agent still holds that
// agent's deadline. The guard of the next agent takes its state over and retires it, so the old
// one does not fence the PostgreSQL the new agent has since proven its lease for. The state file
// is versioned (fence-guard-protocol.ts): it is read by a later, maybe upgraded, agent run.
const stateFile = join(dirname(dataDir), `.${basename(dataDir)}.fence-guard.json`);

function saveState(): void {
  try {
    const tmp = `${stateFile}.${process.pid}`;
    writeFileSync(tmp, encodeHandover({ pid: process.pid, armed, deadlineMonoMs: deadline, leaseId }));
    renameSync(tmp, stateFile);
  } catch {
    // No handover without a writable parent directory; fencing itself does not depend on it.
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

function takeOver(): void {
  let text: string;
  try {
    text = readFileSync(stateFile, 'utf8');
  } catch {
    return; // No previous guard.
  }
  const prev = parseHandover(text);
  if (!prev.ok) {
    // A record we cannot read: we do not know its deadline, so we must not retire the guard that
    // holds it. It keeps guarding (and fences at its own deadline); the agent fences a writable
    // PostgreSQL itself once it knows it is not paused, and does not re-attach the leader key.
    if (prev.pid !== null && prev.pid !== process.pid && isGuard(prev.pid)) {
      log('refusing the previous fence guard\'s hand-over state; leaving that guard in charge of its own deadline', { previousPid: prev.pid, reason: prev.reason });
    }
    return;
  }
  const rec = prev.record;
  leaseId = rec.leaseId;
  if (rec.pid === process.pid || !isGuard(rec.pid)) return;
  if (rec.armed) {
    armed = true;
    deadline = rec.deadlineMonoMs;
  }
  try {
    process.kill(rec.pid, 'SIGTERM');
  } catch {
    // It ended meanwhile.
  }
  log('took over from the previous fence guard', { previousPid: rec.pid, armed, leaseId, msLeft: Math.round(deadline - systemClock.monoMs()) });
}

// Retired by a newer guard (which now holds our deadline): leave without fencing.
process.on('SIGTERM', () => process.exit(0));
// The guard shares the agent's systemd cgroup: a signal meant for the agent (`systemctl kill -s
// SIGUSR2` without --kill-whom=main, SIGHUP) must not end the guard by Node's default action.
for (const sig of ['SIGHUP', 'SIGUSR1', 'SIGUSR2', 'SIGINT'] as const) process.on(sig, () => log('signal ignored (meant for the agent)', { signal: sig }));

const log = (msg: string, fields: Record<string, unknown> = {}) =>
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), component: 'fence-guard', msg, ...fields })}\n`);

const pidFile = join(dataDir, 'postmaster.pid');
const postmasterPid = (): number | null => readPostmasterPidSync(pidFile);
const alive = (pid: number): boolean => isPostmasterAlive(pid);

/** Signal first, log after: the margin between our deadline and etcd's expiry is for the stop, not for I/O. */
async function fence(): Promise<void> {
  const pid = postmasterPid();
  if (pid === null || !alive(pid)) {
    log('lease deadline passed without a newer one; postgresql is not running', { lateMs: Math.round(systemClock.monoMs() - deadline) });
    return;
  }
  process.kill(pid, 'SIGQUIT'); // immediate shutdown, as pg_ctl stop -m immediate
  const lateMs = Math.round(systemClock.monoMs() - deadline);
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

let timer: NodeJS.Timeout | null = null;

function fire(): void {
  if (!armed) return;
  const now = systemClock.monoMs();
  if (now < deadline) return schedule();
  armed = false;
  void fence().finally(() => {
    if (agentGone) process.exit(0);
  });
}

/** One timer at the deadline (not a poll): the guard costs nothing while the agent is healthy. */
function schedule(): void {
  if (timer) clearTimeout(timer);
  timer = armed ? setTimeout(fire, Math.max(0, deadline - systemClock.monoMs())) : null;
}

takeOver();
schedule();
saveState();

// Once the agent is gone there is nothing to wait for but the deadline or the postmaster's end. A
// replica being promoted counts as guarded (armed): it may become writable any moment.
const exitWhenIdle = () => {
  if (agentGone && (!armed || !postmasterWriteState(dataDir).alive)) {
    log('agent gone and no postgresql to guard: exiting');
    process.exit(0);
  }
};
setInterval(exitWhenIdle, 1000);

createInterface({ input: process.stdin }).on('line', (line) => {
  const msg = parseGuardMessage(line);
  if (!msg) return log('ignoring malformed message', { line: line.slice(0, 200) });
  if (msg.type === 'arm') {
    armed = true;
    deadline = msg.deadlineMonoMs;
    leaseId = msg.leaseId;
  } else if (msg.type === 'disarm') {
    armed = false;
    leaseId = msg.leaseId;
  } else {
    // The agent exits. If it still leaves a PostgreSQL we guard (its lease neither released nor
    // proven lost), keep that deadline: leaving now would leave a writable primary unguarded.
    agentGone = true;
    log('agent exiting', { armed, msLeft: Math.round(deadline - systemClock.monoMs()) });
    exitWhenIdle();
  }
  schedule();
  saveState();
}).on('close', () => {
  agentGone = true;
  log('agent closed the channel; guarding until the last deadline', { armed, msLeft: Math.round(deadline - systemClock.monoMs()) });
});
