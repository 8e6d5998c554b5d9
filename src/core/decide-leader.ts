// This node holds the leader key.
import type { FailoverRequest } from './cluster.js';
import type { Action, DecideInput, Decision, SwitchoverAbort } from './decide-types.js';
import { decision, isPaused, slotMembers } from './decision.js';
import { bestAmongPeers, bestCandidate, candidateHealthy, promoteAction, promotionTimeline, runningPrimaryPeer } from './eligibility.js';
import { memberRef } from './member-ref.js';
import { leaderSyncStep, prepromoteSync } from './sync.js';

export function whenLeader(input: DecideInput): Decision {
  const local = input.local;
  if (local.kind === 'running' && !local.inRecovery) return leaderRunning(input);
  if (local.kind === 'running') {
    // A switchover the operator asked for completes in pause too: the candidate promotes.
    const requested = input.cluster?.failover?.value.member === input.self.name;
    if (isPaused(input) && !requested) return decision(input, [{ kind: 'renewLeader' }], 'paused: holding the leader key while postgresql is in recovery');
    const tl = promotionTimeline(input);
    if (!tl.ok) return decision(input, [{ kind: 'releaseLeader' }], `releasing the leader key instead of promoting: ${tl.reason}`);
    const hold = holdOffPromotion(input, tl.newest);
    if (hold) return hold;
    return decision(input, [
      { kind: 'renewLeader' },
      ...prepromoteSync(input),
      { kind: 'createSlots', members: slotMembers(input) },
      promoteAction(input, tl, 'leader key held by a replica'),
      { kind: 'publishLeaderStatus' },
    ], 'promoting: this node holds the leader key and postgresql is still in recovery');
  }
  return leaderPgNotRunning(input);
}

/**
 * The key was won but the promotion did not happen (it failed, or postgresql crashed under it):
 * before promoting now, S2 again against the peers the loop probed. A member that still runs as
 * primary is waited out; a more advanced eligible member gets the key instead.
 */
function holdOffPromotion(input: DecideInput, newest: number): Decision | null {
  const primary = runningPrimaryPeer(input);
  if (primary !== null) {
    return decision(input, [{ kind: 'renewLeader' }], `holding the leader key without promoting: member ${primary} still reports itself primary`);
  }
  if (input.cluster?.failover?.value.member === input.self.name) return null;
  // Only WAL at stake justifies a handover now; a priority or name tie does not.
  const best = bestAmongPeers(input, { ties: false, newest });
  if (best.ok) return null;
  return decision(input, [{ kind: 'releaseLeader' }], `releasing the leader key instead of promoting: ${best.reason}`);
}

function leaderRunning(input: DecideInput): Decision {
  const actions: Action[] = [{ kind: 'renewLeader' }, { kind: 'publishLeaderStatus' }];
  const cluster = input.cluster;
  const local = input.local;
  const notes: string[] = [];
  if (cluster && local.kind === 'running') {
    if (cluster.initialize === '' || cluster.initialize === null) {
      actions.push({ kind: 'setInitialize', systemId: local.systemIdentifier });
      notes.push('recording the system identifier');
    }
    if (cluster.config === null) {
      actions.push({ kind: 'seedConfig' });
      notes.push('seeding the dynamic configuration');
    }
    actions.push({ kind: 'createSlots', members: slotMembers(input) });
  }
  const abort = input.memory.switchoverAbort;
  const memory = { primaryDownSinceMs: null, lastLeader: input.self.name, switchoverAbort: abort ? { ...abort, restart: false } : null };
  const fo = input.cluster?.failover;
  if (abort?.restart === true && fo) {
    // The job failed before stopping postgresql (a failed CHECKPOINT, ...): drop the request, or
    // the next tick would run it again.
    return decision(input, [...actions, { kind: 'deleteFailover', modRevision: fo.modRevision }],
      `switchover to ${abort.candidate} aborted: ${abort.reason}; clearing the request, postgresql still runs as primary`, memory);
  }
  const handover = switchoverAsLeader(input);
  if (handover) {
    const starts = handover.actions.some((a) => a.kind === 'startJob');
    // A dropped request is published like an aborted one, so the API that wrote it answers why.
    const dropped = handover.dropped === undefined ? {} : { switchoverAbort: { ...handover.dropped, wallAtMs: input.wallNowMs, restart: false } };
    return decision(input, [...actions, ...handover.actions], handover.reason, starts ? { ...memory, switchoverAbort: null } : { ...memory, ...dropped });
  }
  // In pause too, as Patroni does: which standby is synchronous is no role change, and a commit
  // waiting on a standby that stopped replaying would otherwise wait until the pause ends.
  const sync = leaderSyncStep(input);
  const base = `${isPaused(input) ? 'paused; ' : ''}${notes.length > 0 ? `leader: ${notes.join(', ')}` : 'leader: renewing the lease'}`;
  const reason = sync.note === null ? base : `${base}; ${sync.note}`;
  return decision(input, [...actions, ...sync.actions], reason, { ...memory, ...sync.memory });
}

/** The failover key, seen by the leader: run a due switchover, or clear a request that cannot run. */
function switchoverAsLeader(input: DecideInput): { actions: Action[]; reason: string; dropped?: { candidate: string; reason: string } } | null {
  const fo = input.cluster?.failover;
  if (!fo) return null;
  const req = fo.value;
  const drop = (why: string) => ({
    actions: [{ kind: 'deleteFailover', modRevision: fo.modRevision } as Action],
    reason: `clearing the switchover request: ${why}`,
    dropped: { candidate: req.member ?? 'any', reason: why },
  });
  // The candidate that took the key: the request is done, not refused (nothing to report).
  if (req.member === input.self.name && req.leader !== input.self.name) {
    return { actions: [{ kind: 'deleteFailover', modRevision: fo.modRevision }], reason: 'this node, the requested candidate, leads now; clearing the request' };
  }
  if (req.member === input.self.name) return drop('this node is already the leader');
  if (req.leader !== undefined && req.leader !== input.self.name) return drop(`it names ${req.leader} as leader but this node holds the key`);
  if (req.scheduledAt !== undefined) {
    const at = Date.parse(req.scheduledAt);
    if (Number.isNaN(at)) return drop(`scheduled_at ${req.scheduledAt} is not a valid time`);
    if (at > input.wallNowMs) return { actions: [], reason: `switchover scheduled at ${req.scheduledAt}` };
  }
  const candidate = req.member ?? bestCandidate(input);
  if (candidate === null) return drop(`no healthy candidate (${unhealthyCandidates(input)})`);
  const health = candidateHealthy(input, candidate);
  if (!health.ok) return drop(health.reason);
  const member = input.cluster?.members.find((m) => m.name === candidate);
  const ref = member ? memberRef(member) : null;
  if (!ref) return drop(`member ${candidate} is unknown`);
  return {
    actions: [{ kind: 'startJob', job: { kind: 'switchover', candidate: ref, failoverModRevision: fo.modRevision, ...announce(input, req, candidate) } }],
    reason: `switchover to ${candidate}: ${health.detail}`,
  };
}

/**
 * A request that named no candidate names the one picked here before the key is released. Left
 * unnamed, every member raced again, and this node, back as a replica with all the WAL, could win
 * its own switchover and promote to a new timeline (patronictl switchover answered "failed").
 */
function announce(input: DecideInput, req: FailoverRequest, candidate: string): { announce?: FailoverRequest } {
  return req.member === undefined ? { announce: { leader: input.self.name, member: candidate } } : {};
}

function leaderPgNotRunning(input: DecideInput): Decision {
  const local = input.local;
  const abort = input.memory.switchoverAbort?.restart === true ? input.memory.switchoverAbort : null;
  // In pause PostgreSQL is left alone, except after an aborted switchover: the operator asked
  // for a handover, not for a cluster without a primary.
  if (isPaused(input) && !abort) return decision(input, [{ kind: 'renewLeader' }], `paused: postgresql is ${local.kind}, leaving it`);
  if (local.kind === 'unresponsive') {
    return decision(input, [{ kind: 'renewLeader' }], `leader: postgresql is unresponsive (${local.detail}); waiting`);
  }
  const since = input.memory.primaryDownSinceMs ?? input.nowMs;
  const limitMs = input.config.primary_start_timeout * 1000;
  // Pause never hands the key to a failover; after an abort it keeps trying to start.
  if (input.nowMs - since > limitMs && !isPaused(input)) {
    return decision(input, [{ kind: 'releaseLeader' }],
      `releasing the leader key: postgresql could not be started within primary_start_timeout (${input.config.primary_start_timeout} s)`,
      { primaryDownSinceMs: null });
  }
  if (abort) return restartAfterAbort(input, abort, since);
  // primary_start_timeout 0 asks to fail over rather than restart, when someone can take over
  // (Patroni's recover(): "stopped PostgreSQL to fail over after a crash").
  const successor = limitMs === 0 && !isPaused(input) ? bestCandidate(input) : null;
  if (successor !== null) {
    return decision(input, [{ kind: 'releaseLeader' }],
      `releasing the leader key: postgresql is down and primary_start_timeout is 0; ${successor} can take over`,
      { primaryDownSinceMs: null, releasedForSuccessorMs: input.nowMs });
  }
  const actions: Action[] = [{ kind: 'renewLeader' }];
  if (input.fenced) actions.push({ kind: 'clearFence' });
  const state = local.control?.state;
  const wasReplica = state === 'shut down in recovery' || state === 'in archive recovery';
  actions.push({ kind: 'startJob', job: wasReplica ? { kind: 'startReplica', leader: null } : { kind: 'startPrimary' } });
  const why = input.fenced ? 'after a fence, with the lease proven again' : 'crash recovery in place, same timeline';
  return decision(input, actions, `leader: starting postgresql (${why})`, { primaryDownSinceMs: since });
}

/**
 * SPEC 5.6: the switchover stopped short of releasing the key (an unclean stop, or the candidate
 * lacks the shutdown checkpoint), so handing over could drop commits. This node still holds the
 * key: it clears the request and comes back as primary on the same timeline (crash recovery if
 * the stop was escalated), in pause too.
 */
function restartAfterAbort(input: DecideInput, abort: SwitchoverAbort, since: number): Decision {
  const fo = input.cluster?.failover;
  const actions: Action[] = [{ kind: 'renewLeader' }];
  if (fo) actions.push({ kind: 'deleteFailover', modRevision: fo.modRevision });
  if (input.fenced) actions.push({ kind: 'clearFence' });
  actions.push({ kind: 'startJob', job: { kind: 'startPrimary' } });
  return decision(input, actions,
    `switchover to ${abort.candidate} aborted: ${abort.reason}; keeping the leader key and starting postgresql again as primary on the same timeline`,
    { primaryDownSinceMs: since });
}

/** Why each other member cannot take over now, for a switchover without a candidate that found none. */
function unhealthyCandidates(input: DecideInput): string {
  const others = (input.cluster?.members ?? []).filter((m) => m.name !== input.self.name && m.agent !== undefined);
  if (others.length === 0) return 'no other member';
  return others.map((m) => candidateHealthy(input, m.name)).map((v) => (v.ok ? v.detail : v.reason)).join('; ');
}
