// No leader key: start PostgreSQL read-only to compete, hand a paused switchover to its
// candidate, or race for the key (S2: the best reachable candidate, the former leader proven
// unable to write, the probes fresh enough).
import type { Action, DecideInput, Decision } from './decide-types.js';
import { decision, isPaused, isWritablePrimary, slotMembers, stoppedAsPrimary } from './decision.js';
import { startingPeerWait } from './starting-peers.js';
import { bestAmongPeers, mayBeRunningPrimary, newerTimelinePeer, peerCouldLead, promoteAction, runningPrimaryPeer, selfEligibility, type Verdict } from './eligibility.js';
import { formerLeaderDeadline, formerLeaderMayWrite, probedBeforeDeadline } from './former-leader.js';
import { prepromoteSync } from './sync.js';

export function whenUnlocked(input: DecideInput): Decision {
  const local = input.local;
  if (isPaused(input)) {
    if (isWritablePrimary(input)) {
      return decision(input, [{ kind: 'acquireLeader' }, { kind: 'publishLeaderStatus' }],
        'paused: no leader key; taking it for the running primary without any other action');
    }
    return whenUnlockedPaused(input);
  }
  if (local.kind === 'down' && !input.job) {
    if (input.fenced) {
      return decision(input, [{ kind: 'clearFence' }, { kind: 'startJob', job: { kind: 'startReplica', leader: null } }],
        'no leader: starting the fenced former primary read-only so its wal position can compete');
    }
    const released = input.memory.releasedForSuccessorMs;
    const waitMs = input.config.loop_wait * 1000;
    if (released !== null && stoppedAsPrimary(input) && input.nowMs - released < waitMs) {
      return decision(input, [],
        `no leader yet: the key was released ${Math.round(input.nowMs - released)} ms ago for a successor; waiting up to ${waitMs} ms for it to lead before starting this former primary read-only`);
    }
    const was = stoppedAsPrimary(input) ? 'former primary' : 'replica';
    return decision(input, [{ kind: 'startJob', job: { kind: 'startReplica', leader: null } }],
      `no leader: starting postgresql (${was}) read-only so it can take part in the leader race`);
  }
  if (local.kind !== 'running') return decision(input, [], `no leader; postgresql is ${local.kind}, cannot race`);
  return raceForLeader(input);
}

/**
 * Pause takes no automatic action, but a switchover the operator asked for completes (as in
 * Patroni): the named candidate takes the key and promotes. If it never does, the old leader,
 * stopped cleanly with every record on the candidate, takes the key back.
 */
function whenUnlockedPaused(input: DecideInput): Decision {
  const local = input.local;
  const handed = input.memory.handedOver;
  if (handed?.unclaimed === true && local.kind === 'down' && !input.job) {
    const fo = input.cluster?.failover;
    return decision(input, [
      { kind: 'acquireLeader' },
      ...(fo ? [{ kind: 'deleteFailover', modRevision: fo.modRevision } as const] : []),
      ...(input.fenced ? [{ kind: 'clearFence' } as const] : []),
      { kind: 'startJob', job: { kind: 'startPrimary' } },
    ], `paused: ${handed.to} did not take the leader key after the switchover and is still a replica; taking the key back and starting postgresql again as primary on the same timeline`,
    { handedOver: { to: handed.to, unclaimed: false } });
  }
  const fo = input.cluster?.failover?.value;
  if (fo && fo.member === input.self.name && fo.scheduledAt === undefined && local.kind === 'running' && local.inRecovery) {
    const unproven = oldLeaderMayRun(input, fo.leader ?? input.memory.lastLeader);
    if (unproven) return decision(input, [], `paused: not taking the leader key as the requested candidate: ${unproven}`);
    return raceForLeader(input);
  }
  return decision(input, [], 'paused: no leader key; no automatic failover');
}

/**
 * Nothing fences a primary in pause, so the requested candidate promotes only when the member
 * that led before answers and does not run as primary (it stopped for the switchover).
 */
function oldLeaderMayRun(input: DecideInput, old: string | null): string | null {
  if (old === null || old === input.self.name) return null;
  const probe = input.peers.get(old);
  if (!probe || !probe.reachable) return `the former leader ${old} does not answer, so it may still run as primary`;
  if (mayBeRunningPrimary(probe)) return `the former leader ${old} still reports itself primary`;
  return null;
}

function raceForLeader(input: DecideInput): Decision {
  const local = input.local;
  if (local.kind !== 'running') return decision(input, [], 'postgresql not running');
  const failover = input.cluster?.failover?.value ?? null;
  const requested = failover?.member ?? null;
  const self = selfEligibility(input);
  if (!self.ok) return decision(input, [], `not promoting: ${self.reason}`);
  // Defer only to a candidate that will take the key itself; otherwise nobody would.
  // A running primary whose key vanished (deleted, revoked) takes it back: a switchover is the
  // key holder's job, and deferring would leave it writable without a key (S1).
  if (requested !== null && requested !== input.self.name && !isWritablePrimary(input) && peerCouldLead(input, input.peers.get(requested))) {
    return decision(input, [], `not promoting: ${requested} was requested as the new leader`);
  }
  const rank = rankInRace(input, requested, self.catchUp?.newest);
  if (!rank.ok) return decision(input, [], `not promoting: ${rank.reason}`);
  // Only a failover the operator asked for with no leader to hand over waives the paused-leader
  // rule; a request naming the leader was for that leader to carry out (a switchover), and its
  // absence says nothing about whether it stopped (seed 541: killed in pause, never fenced).
  const operatorFailover = requested === input.self.name && failover?.leader === undefined;
  const former = formerLeaderMayWrite(input, !operatorFailover);
  if (former !== null) return lookAgainAt(decision(input, [], `not promoting: ${former}`), input, formerLeaderDeadline(input));
  const early = probedBeforeDeadline(input);
  if (early !== null) return decision(input, [{ kind: 'probeAgain' }], `not promoting yet: ${early}`);
  return decision(input, takeKeyActions(input, requested, self.catchUp), `taking the leader key: ${self.detail}; ${rank.detail}`);
}

/**
 * Where this node stands among the members: the requested candidate only checks that no primary
 * runs and no member is on a newer timeline; anyone else must be the best of the reachable members
 * and wait for a member still starting.
 */
function rankInRace(input: DecideInput, requested: string | null, newest: number | undefined): Verdict {
  if (requested === input.self.name) {
    const primary = runningPrimaryPeer(input);
    if (primary !== null) return { ok: false, reason: `member ${primary} still reports itself primary` };
    const newer = newerTimelinePeer(input, newest);
    return newer !== null ? { ok: false, reason: newer } : { ok: true, detail: 'requested candidate' };
  }
  const best = bestAmongPeers(input, newest !== undefined ? { newest } : {});
  if (!best.ok) return best;
  const starting = input.local.kind === 'running' && input.local.inRecovery ? startingPeerWait(input) : null;
  return starting !== null ? { ok: false, reason: starting } : { ok: true, detail: `best candidate, ${best.detail}` };
}

/** Take the key, then slots (replicas follow as soon as the key changes hands), then promote. */
function takeKeyActions(input: DecideInput, requested: string | null, catchUp: Extract<Verdict, { ok: true }>['catchUp']): Action[] {
  const acquire: Action = {
    kind: 'acquireLeader', statusRev: input.cluster?.statusModRevision ?? 0, historyRev: input.cluster?.history?.modRevision ?? 0,
    ...(input.cluster ? { viewRevision: input.cluster.revision } : {}),
  };
  const inRecovery = input.local.kind === 'running' && input.local.inRecovery;
  // Synchronous mode: the sync key names this node (and s_s_n is set) before it takes a write.
  const sync = inRecovery ? prepromoteSync(input) : [];
  const actions: Action[] = [acquire, ...clusterKeys(input), ...sync, { kind: 'createSlots', members: slotMembers(input) }];
  if (inRecovery) {
    const why = requested === input.self.name ? 'manual failover/switchover' : 'automatic failover';
    actions.push(promoteAction(input, catchUp, why));
  }
  actions.push({ kind: 'publishLeaderStatus' });
  // A request for another candidate that could not lead is void once someone else leads; left in
  // place, the new leader would act on it and hand over again.
  const fo = input.cluster?.failover;
  if (fo && requested !== input.self.name) actions.push({ kind: 'deleteFailover', modRevision: fo.modRevision });
  return actions;
}

/** Right after a bootstrap the new leader records the system identifier and seeds the config. */
function clusterKeys(input: DecideInput): Action[] {
  const { cluster, local } = input;
  if (!cluster || local.kind !== 'running') return [];
  const actions: Action[] = [];
  if (cluster.initialize === '' || cluster.initialize === null) actions.push({ kind: 'setInitialize', systemId: local.systemIdentifier });
  if (cluster.config === null) actions.push({ kind: 'seedConfig' });
  return actions;
}

/** A wait that ends at a known moment: the loop ticks then (the race starts once the deadline passed). */
function lookAgainAt(d: Decision, input: DecideInput, atMs: number | null): Decision {
  return atMs !== null && atMs > input.nowMs ? { ...d, lookAgainAtMs: atMs } : d;
}
