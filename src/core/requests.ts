// Operator requests (POST /restart, POST /reinitialize) answered by decide(): the API only queues
// them; the tick that sees one starts the job or refuses with the reason the API returns. The
// decision's own actions come first: a request never starts PostgreSQL beside a promotion, a
// rejoin, a fence or a key change decided in the same tick.
import type { Action, DecideInput, Decision, JobSpec, MemberRef } from './decide-types.js';
import type { LocalPg } from './local-pg.js';
import { memberRef } from './member-ref.js';

export type OperatorRequest =
  | {
    readonly id: number;
    readonly kind: 'restart';
    /** Filters: restart only in this role, below this server version, with a restart pending. */
    readonly role?: 'primary' | 'replica' | 'standby_leader';
    readonly postgresVersion?: string;
    readonly restartPending?: boolean;
    /** A scheduled restart: the postmaster start time when it was scheduled (another restart since makes it moot). */
    readonly postmasterStartTime?: string | null;
  }
  | { readonly id: number; readonly kind: 'reinit'; readonly force: boolean };

export type RequestAnswer =
  | { readonly id: number; readonly kind: 'started'; readonly job: JobSpec }
  /** A restart whose filters do not match this node now. */
  | { readonly id: number; readonly kind: 'not_needed'; readonly reason: string }
  /** A scheduled restart overtaken by another restart. */
  | { readonly id: number; readonly kind: 'cancelled'; readonly reason: string }
  | { readonly id: number; readonly kind: 'refused'; readonly reason: string };

/** Actions that change PostgreSQL or the key: a request's job waits for a tick without them. */
const OWN_MOVES: ReadonlySet<Action['kind']> = new Set(['promote', 'follow', 'fence', 'stop', 'startJob', 'halt', 'releaseLeader', 'acquireLeader']);

/** The state word of /patroni and the member key (Patroni's): running, stopped, starting, ... */
export function pgStateWord(local: LocalPg, jobKind: string | null): string {
  if (jobKind === 'clone') return 'creating replica';
  if (jobKind === 'bootstrap') return 'initializing new cluster';
  if (local.kind === 'running') return 'running';
  if (local.kind === 'unresponsive') return 'starting';
  if (jobKind) return 'starting';
  return 'stopped';
}

/** Answers every queued request: at most one starts a job; the decision keeps its own actions first. */
export function answerRequests(input: DecideInput, d: Decision): Decision {
  const requests = input.requests ?? [];
  if (requests.length === 0) return d;
  const answers: RequestAnswer[] = [];
  const actions: Action[] = [...d.actions];
  let busy = ownMove(d);
  for (const req of requests) {
    const answer = req.kind === 'restart' ? answerRestart(input, req, busy) : answerReinit(input, req, busy);
    answers.push(answer);
    if (answer.kind !== 'started') continue;
    if (req.kind === 'reinit' && input.job !== null) actions.push({ kind: 'abortJob' });
    actions.push({ kind: 'startJob', job: answer.job });
    busy = `a ${answer.job.kind} job was just started for an earlier request`;
  }
  return { ...d, actions, answers };
}

function ownMove(d: Decision): string | null {
  return d.actions.some((a) => OWN_MOVES.has(a.kind)) ? `the agent is acting on its own this tick: ${d.reason}` : null;
}

/** The key proven ours (and, when etcd could be read, the view agrees). */
function holdsKey(input: DecideInput): boolean {
  return input.nowMs < input.lease.validUntilMs && (input.cluster === null || input.cluster.leader?.name === input.self.name);
}

function leaderRef(input: DecideInput): MemberRef | null {
  const name = input.cluster?.leader?.name;
  const m = input.cluster?.members.find((x) => x.name === name);
  return m ? memberRef(m) : null;
}

/** The role /patroni shows: as observed when running, else what the key says the node is. */
function roleNow(input: DecideInput): string {
  const local = input.local;
  if (local.kind === 'running') return local.inRecovery ? 'replica' : 'primary';
  if (local.dataDir === 'empty') return 'uninitialized';
  return holdsKey(input) ? 'primary' : 'replica';
}

function versionBelow(running: number | undefined, wanted: string): boolean {
  const [maj, min] = wanted.split('.').map(Number);
  if (running === undefined || maj === undefined || Number.isNaN(maj)) return true;
  return running < maj * 10000 + (min ?? 0);
}

/** Why the restart's filters do not match this node now; null when they do. */
function mismatch(input: DecideInput, req: Extract<OperatorRequest, { kind: 'restart' }>): string | null {
  const local = input.local;
  const running = local.kind === 'running' ? local : null;
  const role = roleNow(input);
  if (req.role !== undefined && req.role !== role) return `role does not match (${role})`;
  if (req.postgresVersion !== undefined && !versionBelow(running?.serverVersion, req.postgresVersion)) {
    return `server version ${running?.serverVersion ?? 'unknown'} is not below ${req.postgresVersion}`;
  }
  if (req.restartPending === true && running?.pendingRestart !== true) return 'no restart pending';
  return null;
}

/**
 * The role to start in. A stopped PostgreSQL (killed in pause, say) is started as Patroni does:
 * as primary only while this node holds the leader key, else as a replica of the leader.
 */
function startRole(input: DecideInput): 'primary' | 'replica' {
  if (input.local.kind === 'running') return input.local.inRecovery ? 'replica' : 'primary';
  return holdsKey(input) ? 'primary' : 'replica';
}

function answerRestart(input: DecideInput, req: Extract<OperatorRequest, { kind: 'restart' }>, busy: string | null): RequestAnswer {
  const id = req.id;
  const started = input.local.kind === 'running' ? input.local.postmasterStartTime : null;
  const expected = req.postmasterStartTime ?? null;
  if (expected !== null && started !== null && started !== expected) return { id, kind: 'cancelled', reason: `postgres restart has already happened at ${started}` };
  const state = pgStateWord(input.local, input.job?.spec.kind ?? null);
  if (state !== 'running' && state !== 'stopped') return { id, kind: 'refused', reason: `postgresql is ${state}` };
  const why = mismatch(input, req);
  if (why !== null) return { id, kind: 'not_needed', reason: why };
  if (input.job !== null) return { id, kind: 'refused', reason: `${input.job.spec.kind} already in progress` };
  if (busy !== null) return { id, kind: 'refused', reason: busy };
  const role = startRole(input);
  return { id, kind: 'started', job: { kind: 'restart', role, leader: role === 'replica' ? leaderRef(input) : null } };
}

function answerReinit(input: DecideInput, req: Extract<OperatorRequest, { kind: 'reinit' }>, busy: string | null): RequestAnswer {
  const id = req.id;
  if (holdsKey(input)) return { id, kind: 'refused', reason: 'I am the leader, can not reinitialize' };
  if (input.job !== null && !req.force) return { id, kind: 'refused', reason: `${input.job.spec.kind} already in progress` };
  const leader = leaderRef(input);
  if (leader === null) return { id, kind: 'refused', reason: 'Cluster has no leader, can not reinitialize' };
  if (busy !== null) return { id, kind: 'refused', reason: busy };
  return { id, kind: 'started', job: { kind: 'reinit', source: leader } };
}
