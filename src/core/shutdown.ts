// The way out, decided purely: what the agent does with its PostgreSQL, the leader key and its
// member key when it leaves (SPEC 5.12: every exit fences). The daemon gathers fresh facts (the
// postmaster, the lease keeper, pause read from etcd now) and carries the steps out, each bounded.

/** Why the agent leaves. */
export type ShutdownWhy =
  /** SIGTERM or SIGINT: this node goes away (host shutdown, systemctl stop); the loop's exit code. */
  | { readonly kind: 'signal'; readonly exitCode: number }
  /** The loop ended on its own (a refusal, a fatal error) with this exit code. */
  | { readonly kind: 'halt'; readonly exitCode: number }
  /** SIGUSR2 or POST /restart-agent (docs/agent-restart.md): the next run takes over in place. */
  | { readonly kind: 'restartInPlace' };

export interface ShutdownInput {
  readonly why: ShutdownWhy;
  readonly paused: boolean;
  /** Pause was read from etcd just now; false: from the last view (etcd unreachable). */
  readonly pauseFresh: boolean;
  /** A live postmaster (postmaster.pid names a running process). */
  readonly postmasterAlive: boolean;
  /** A live postmaster without standby.signal: it may accept writes. */
  readonly postmasterMayBeWritable: boolean;
  /** Monotonic ms left on the lease the leader key is proven under; null: the key is not proven ours. */
  readonly keyMsLeft: number | null;
  /** This run wrote its member key (a refusing newcomer shares the name with a live member). */
  readonly joined: boolean;
}

export type ShutdownStep =
  /** pg_ctl stop -m fast within budgetMs (the wait for a command in flight included); fence if it fails. */
  | { readonly kind: 'stopPostgres'; readonly budgetMs: number }
  /** SIGQUIT, then SIGKILL of the postmaster and every backend: no lease time left for a clean stop. */
  | { readonly kind: 'fencePostgres'; readonly reason: string }
  | { readonly kind: 'releaseKey' }
  | { readonly kind: 'deleteMember' }
  /** Close what nobody waits for (PostgreSQL connections) before the last keepalive. */
  | { readonly kind: 'closeConnections' }
  /** One last keepalive, so the next run gets the whole TTL (minus the margin) to re-attach. */
  | { readonly kind: 'renewKey' }
  /** Pause: the status key put again, marked paused and ours (a sign of life in pause). */
  | { readonly kind: 'markPaused' };

export interface ShutdownPlan {
  readonly steps: readonly ShutdownStep[];
  readonly reason: string;
  readonly exitCode: number;
}

/** The restart-in-place exit code systemd restarts at once (RestartForceExitStatus=75, EX_TEMPFAIL). */
export const RESTART_IN_PLACE_EXIT_CODE = 75;
/** A clean stop never takes longer than this, however much lease is left. */
export const CLEAN_STOP_MAX_MS = 60_000;
/** Kept back from the lease deadline: the stop must end before the key can expire. */
export const CLEAN_STOP_MARGIN_MS = 500;
/** Below this much lease, a clean stop is not attempted: fence at once. */
export const CLEAN_STOP_MIN_MS = 1_000;

/** What the process exits with. */
function exitCodeOf(why: ShutdownWhy): number {
  return why.kind === 'restartInPlace' ? RESTART_IN_PLACE_EXIT_CODE : why.exitCode;
}

function whyWords(why: ShutdownWhy): string {
  if (why.kind === 'signal') return 'stop signal';
  if (why.kind === 'halt') return `exit code ${why.exitCode}`;
  return 'restart in place';
}

/**
 * The way out. A restart in place leaves everything as it is (the fence guard holds the deadline
 * until the next run re-attaches the key). Any other exit stops a PostgreSQL that may be writable
 * cleanly within what is left of the proven lease (fenced when too little is left, or no lease is
 * proven), and only then releases the key, so a replica takes over at once; pause leaves
 * PostgreSQL, the key and the member key alone (SPEC 5.8). A replica is left running.
 */
export function decideShutdown(i: ShutdownInput): ShutdownPlan {
  if (i.why.kind === 'restartInPlace') return handOver(i);
  const why = whyWords(i.why);
  const exitCode = exitCodeOf(i.why);
  const pauseWord = i.pauseFresh ? 'paused' : 'paused (as last seen; etcd could not be read)';
  if (i.paused) return leaveInPause(i, `${pauseWord}: leaving postgresql running, the leader key and the member key as they are on shutdown (${why})`);
  const steps: ShutdownStep[] = [];
  const stopping = stopStep(i, why);
  if (stopping !== null) steps.push(stopping);
  // The member key goes first: a replica that sees the key released must not see a member key
  // written in pause beside it (it would take this leader for one still paused, never fencing).
  if (i.joined) steps.push({ kind: 'deleteMember' });
  if (i.keyMsLeft !== null) steps.push({ kind: 'releaseKey' });
  return { steps, exitCode, reason: leaveReason(i, stopping, why) };
}

/**
 * A key holder marks the status key paused first: the pause may have been set after the last tick
 * (a stop waits for a job, a promotion say, to end), and a replica that last saw this leader alive
 * before the pause judges it by its lease deadline after a resume, while nothing fences the
 * PostgreSQL left here (sim seed 544 of set 6). Marked, it waits for this leader's own answer.
 */
function leaveInPause(i: ShutdownInput, reason: string): ShutdownPlan {
  const exitCode = exitCodeOf(i.why);
  if (i.keyMsLeft === null) return { steps: [], exitCode, reason };
  return { steps: [{ kind: 'markPaused' }], exitCode, reason: `${reason}; the status key marked paused first` };
}

/** A PostgreSQL that may be writable (or any live one while we hold the key: a promotion in flight) is stopped first. */
function stopStep(i: ShutdownInput, why: string): ShutdownStep | null {
  const holds = i.keyMsLeft !== null;
  if (!i.postmasterMayBeWritable && !(holds && i.postmasterAlive)) return null;
  const budgetMs = Math.floor(Math.min(CLEAN_STOP_MAX_MS, (i.keyMsLeft ?? -Infinity) - CLEAN_STOP_MARGIN_MS));
  if (budgetMs < CLEAN_STOP_MIN_MS) {
    return { kind: 'fencePostgres', reason: `shutdown (${why}): ${leaseLeft(i.keyMsLeft)} for a clean stop` };
  }
  return { kind: 'stopPostgres', budgetMs };
}

function leaseLeft(keyMsLeft: number | null): string {
  return keyMsLeft === null ? 'no proven lease' : `only ${Math.max(0, Math.round(keyMsLeft))} ms of the proven lease left`;
}

function leaveReason(i: ShutdownInput, stopping: ShutdownStep | null, why: string): string {
  const key = i.keyMsLeft !== null ? ', then releasing the leader key so a replica takes over at once' : '';
  if (stopping?.kind === 'stopPostgres') return `shutting down (${why}): stopping postgresql cleanly within ${stopping.budgetMs} ms of the proven lease${key}`;
  if (stopping?.kind === 'fencePostgres') return `shutting down (${why}): fencing postgresql, ${leaseLeft(i.keyMsLeft)} for a clean stop${key}`;
  const pg = i.postmasterAlive ? 'leaving the replica running' : 'postgresql is not running';
  return `shutting down (${why}): ${pg}${key}`;
}

/** Restart in place: nothing is stopped or released; a leader gives the next run a fresh TTL. */
function handOver(i: ShutdownInput): ShutdownPlan {
  const exitCode = RESTART_IN_PLACE_EXIT_CODE;
  if (i.keyMsLeft === null) {
    return { steps: [{ kind: 'closeConnections' }], exitCode, reason: 'restart in place: not the leader; postgresql and the member key stay' };
  }
  return {
    steps: [{ kind: 'closeConnections' }, { kind: 'renewKey' }],
    exitCode,
    reason: 'restart in place: postgresql keeps running, the leader key stays held (one last keepalive) and the fence guard holds the deadline until the next run re-attaches it',
  };
}

/**
 * The way out hung past its deadline: fence a PostgreSQL that may be writable (not in pause: the
 * operator keeps it), then exit.
 */
export function lastResort(i: { readonly paused: boolean; readonly postmasterMayBeWritable: boolean }): { readonly fence: boolean; readonly reason: string } {
  if (i.paused) return { fence: false, reason: 'the agent did not finish stopping in time; paused, so postgresql is left running' };
  if (!i.postmasterMayBeWritable) return { fence: false, reason: 'the agent did not finish stopping in time; postgresql cannot accept writes' };
  return { fence: true, reason: 'the agent did not finish stopping in time' };
}

/**
 * POST /restart-agent (docs/agent-restart.md): a running job is not cut short unless forced (it is
 * aborted on the way out), and a way out already under way is not started twice.
 */
export function answerAgentRestart(i: { readonly force: boolean; readonly jobKind: string | null; readonly terminating: 'term' | 'restart' | null }):
  { readonly accepted: true } | { readonly accepted: false; readonly status: 409 | 503; readonly reason: string } {
  if (i.jobKind !== null && !i.force) return { accepted: false, status: 409, reason: `a ${i.jobKind} job is running; restart the agent after it ends (or force it: the job is aborted)` };
  if (i.terminating !== null) return { accepted: false, status: 503, reason: `the agent is already ${i.terminating === 'restart' ? 'restarting' : 'stopping'}` };
  return { accepted: true };
}
