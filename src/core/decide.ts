// decide(): observed state in, actions + one reason sentence + memory out. Pure and synchronous.
// Branches: safety first (S1), then whatever the data dir and the leader key call for.
import type { Action, DecideInput, Decision, FinishedJob, Memory } from './decide-types.js';
import { decision, isPaused, isWritablePrimary, leaseValid, msLeft, slotMembers, stoppedAsPrimary } from './decision.js';
import { bestAmongPeers, newerTimelinePeer, peerCouldLead, promoteAction, runningPrimaryPeer, selfEligibility } from './eligibility.js';
import { whenLeader } from './decide-leader.js';
import { whenFollower } from './decide-follower.js';
import { forgetOnLeaderChange, holdBackRepeatedJob, recordJobOutcome } from './job-backoff.js';
import { memberRef } from './member-ref.js';
import { formerLeaderMayWrite, probedBeforeDeadline, trackLeader } from './former-leader.js';
import { keepSyncBase, prepromoteSync } from './sync.js';
import { withConfigApply } from './config-apply.js';
import { answerRequests } from './requests.js';

export function decide(raw: DecideInput): Decision {
  return answerRequests(raw, decideOwn(raw));
}

/** What the agent does on its own; operator requests are answered around it. */
function decideOwn(raw: DecideInput): Decision {
  const memory = trackLeader(raw);
  const input = memory === raw.memory ? raw : { ...raw, memory };
  const unrecorded = promotionNotRecorded(input) ?? primaryStartFailed(input);
  if (unrecorded) return unrecorded;
  const ready = forgetOnLeaderChange(absorbFinishedJob(input));
  const d = holdBackRepeatedJob(ready, decideNow(ready));
  return withConfigApply(input, { ...d, memory: keepSyncBase(input, settleSwitchoverMemory(input, d.memory)) });
}

/**
 * A handover is settled once PostgreSQL runs again (as a replica of the new leader, or primary);
 * a pending restart after an abort only holds while this node keeps the key it kept.
 */
function settleSwitchoverMemory(input: DecideInput, memory: Memory): Memory {
  let m = memory;
  if (input.local.kind === 'running' && m.handedOver !== null) m = { ...m, handedOver: null };
  const leader = input.cluster?.leader?.name;
  if (m.switchoverAbort?.restart === true && input.cluster !== null && leader !== input.self.name) {
    m = { ...m, switchoverAbort: { ...m.switchoverAbort, restart: false } };
  }
  return m;
}

function decideNow(input: DecideInput): Decision {
  if (input.memory.bootstrapFailed !== null) return afterFailedBootstrap(input);
  if (input.cluster === null) return whenDcsUnreachable(input);
  const refusal = refuseToJoin(input);
  if (refusal) return refusal;
  const unsafe = enforceLease(input);
  if (unsafe) return unsafe;
  if (input.job) return whileJobRuns(input);
  if (input.local.dataDir === 'empty' && input.local.kind === 'down') return whenEmpty(input);
  const leader = input.cluster.leader;
  if (!leader) return whenUnlocked(input);
  if (leader.name === input.self.name) return whenLeader(input);
  return whenFollower(input, leader.name);
}

/**
 * No history entry, no promotion (S4): a promotion whose history append failed gives the key back
 * instead, so a member that can record its promotion takes over.
 */
function promotionNotRecorded(input: DecideInput): Decision | null {
  const last = input.memory.lastJob;
  if (!last || last.ok || last.spec.kind !== 'promote' || last.stage !== 'history') return null;
  if (input.cluster?.leader?.name !== input.self.name || isWritablePrimary(input)) return null;
  return decision(input, [{ kind: 'releaseLeader' }],
    `releasing the leader key: the promotion could not be recorded in the history key (${last.error ?? 'unknown error'})`, { lastJob: null });
}

/**
 * Patroni's post_recover: the crashed primary was started again and PostgreSQL refused to run (a
 * broken setting, a damaged file). Retrying for primary_start_timeout keeps the cluster without a
 * writer for minutes; giving the key up lets the most advanced replica take over now. Not in pause
 * (nothing fails over there) and not after an aborted switchover (that restart is the handover's
 * promise to keep the primary). A transient failure (the old postmaster not yet reaped) retries.
 */
function primaryStartFailed(input: DecideInput): Decision | null {
  const last = input.memory.lastJob;
  if (!last || last.ok || last.retryable === true || last.spec.kind !== 'startPrimary') return null;
  if (input.cluster?.leader?.name !== input.self.name || input.local.kind !== 'down') return null;
  if (isPaused(input) || input.memory.switchoverAbort?.restart === true) return null;
  return decision(input, [{ kind: 'releaseLeader' }],
    `releasing the leader key: postgresql failed to start as primary after a crash (${firstLine(last.error)}); a replica can take over`,
    { lastJob: null, primaryDownSinceMs: null });
}

function firstLine(text: string | undefined): string {
  return (text ?? 'unknown error').split('\n')[0] ?? 'unknown error';
}

/** A finished job's outcome feeds memory once; failures that need an answer get one. */
function absorbFinishedJob(input: DecideInput): DecideInput {
  const last = input.memory.lastJob;
  if (!last) return input;
  const leader = input.cluster ? input.cluster.leader?.name ?? null : input.memory.lastLeader;
  const memory = recordJobOutcome({ ...input.memory, lastJob: null }, last, leader);
  if (!last.ok && last.spec.kind === 'rejoin' && last.retryable !== true) {
    const rewind = last.rewindFailed === true ? { rewindFailed: true } : {};
    return { ...input, memory: { ...memory, rejoinFailed: { leader: last.spec.leader.name, error: last.error ?? 'unknown error', ...rewind } } };
  }
  if (last.ok && (last.spec.kind === 'rejoin' || last.spec.kind === 'reinit')) return { ...input, memory: { ...memory, rejoinFailed: null } };
  if (!last.ok && last.spec.kind === 'bootstrap') return { ...input, memory: { ...memory, bootstrapFailed: last.error ?? 'unknown error' } };
  if (last.spec.kind === 'switchover') return { ...input, memory: afterSwitchoverJob(input, last, memory) };
  return { ...input, memory };
}

/**
 * The switchover job only reports: it handed the key over, released it without anyone taking it,
 * or stopped short of releasing it (the abort). What to do about it is decided here.
 */
function afterSwitchoverJob(input: DecideInput, last: FinishedJob, memory: Memory): Memory {
  if (last.spec.kind !== 'switchover') return memory;
  const to = last.spec.candidate.name;
  if (last.ok) return { ...memory, handedOver: { to, unclaimed: false } };
  if (last.unclaimed === true) return { ...memory, handedOver: { to, unclaimed: true } };
  return { ...memory, switchoverAbort: { candidate: to, reason: last.error ?? 'unknown error', wallAtMs: input.wallNowMs, restart: true } };
}

/** Give the bootstrap race back to the others and stop: the half-made data dir needs a look. */
function afterFailedBootstrap(input: DecideInput): Decision {
  return decision(input, [{ kind: 'fence', reason: 'bootstrap failed' }, { kind: 'releaseLeader' }, { kind: 'deleteInitialize' }, { kind: 'halt', exitCode: 1 }],
    `bootstrap failed (${input.memory.bootstrapFailed ?? ''}); released the leader key and the initialize claim; remove the data directory ${'before'} restarting`);
}

function whenDcsUnreachable(input: DecideInput): Decision {
  const why = input.dcsError ?? 'unknown error';
  if (isWritablePrimary(input) && !isPaused(input)) {
    if (!leaseValid(input)) {
      return decision(input, [{ kind: 'fence', reason: 'lease deadline passed while etcd is unreachable' }],
        `fencing: etcd unreachable (${why}) and the lease deadline has passed`);
    }
    return decision(input, [], `etcd unreachable (${why}); primary keeps running until its lease deadline in ${msLeft(input)} ms`);
  }
  return decision(input, [], `etcd unreachable (${why}); no change`);
}

/** Never join a cluster we do not belong to: foreign data, a duplicate name, or Patroni members. */
function refuseToJoin(input: DecideInput): Decision | null {
  const cluster = input.cluster;
  if (!cluster) return null;
  const init = cluster.initialize;
  const local = input.local;
  const sysid = local.kind === 'running' ? local.systemIdentifier : local.control?.systemIdentifier ?? null;
  if (init && sysid && local.dataDir === 'initialized' && init !== sysid) {
    return decision(input, [{ kind: 'halt', exitCode: 3 }],
      `refusing to start: data directory has system identifier ${sysid} but cluster ${'initialize'} key holds ${init} (data from another cluster)`);
  }
  // A live member (it has published its member key in this run) never stops because of a
  // newcomer: the newcomer refuses before it writes any key, and a stranger is only reported
  // (the loop logs it; it is never probed, so never a candidate). SPEC 5.12.
  if (input.joined === true) return null;
  const patroni = cluster.members.find((m) => m.name !== input.self.name && m.agent === undefined);
  if (patroni) {
    return decision(input, [{ kind: 'halt', exitCode: 2 }],
      `refusing to join: member ${patroni.name} is not a pg-ha-agent (Patroni?) and mixing agents in one cluster is not supported`);
  }
  const twin = cluster.members.find((m) => m.name === input.self.name);
  if (twin && twin.connUrl !== input.self.connUrl && twin.leaseId !== input.lease.leaseId) {
    return decision(input, [{ kind: 'halt', exitCode: 2 }],
      `refusing to start: another live member already uses the name ${input.self.name} (${twin.connUrl})`);
  }
  return null;
}

/** S1: a writable primary runs only under this node's proven lease. Not acted on in pause (5.8). */
function enforceLease(input: DecideInput): Decision | null {
  if (!isWritablePrimary(input) || isPaused(input)) return null;
  const leader = input.cluster?.leader ?? null;
  if (leader?.name === input.self.name) {
    if (leaseValid(input)) return null;
    // A restarted agent finds the key under its previous incarnation's lease, which etcd still
    // keeps alive (the key exists): re-attach it before judging. The previous agent's deadline
    // is still enforced meanwhile by the fence guard, which the new guard took over.
    if (input.lease.validUntilMs === -Infinity && leader.leaseId !== input.lease.leaseId && input.memory.lastLeader === null) {
      return decision(input, [{ kind: 'renewLeader' }, { kind: 'publishLeaderStatus' }],
        'leader key held under the lease of a previous agent run: re-attaching it to this run\'s lease');
    }
    return decision(input, [{ kind: 'fence', reason: 'lease deadline passed' }, { kind: 'renewLeader' }],
      'fencing: this node holds the leader key but can no longer prove its lease');
  }
  if (leader) {
    return decision(input, [{ kind: 'fence', reason: `demote: ${leader.name} holds the leader key` }],
      `demoting: postgresql runs as primary but ${leader.name} holds the leader key`);
  }
  if (input.job) {
    return decision(input, [{ kind: 'fence', reason: 'primary without the leader key while a job runs' }],
      'fencing: postgresql runs as primary without the leader key');
  }
  const self = selfEligibility(input);
  const best = self.ok ? bestAmongPeers(input) : self;
  if (self.ok && best.ok) return null; // whenUnlocked takes the key
  return decision(input, [{ kind: 'fence', reason: 'primary without the leader key and not the best candidate' }],
    `fencing: postgresql runs as primary without the leader key and may not take it (${best.ok ? '' : best.reason})`);
}

function whileJobRuns(input: DecideInput): Decision {
  const job = input.job;
  const kind = job ? job.spec.kind : 'none';
  const leader = input.cluster?.leader;
  if (leader?.name === input.self.name) {
    const actions: Action[] = [{ kind: 'renewLeader' }];
    if (isWritablePrimary(input)) actions.push({ kind: 'publishLeaderStatus' });
    return decision(input, actions, `job ${kind} running; renewing the leader lease`);
  }
  return decision(input, [], `job ${kind} running`);
}

function whenEmpty(input: DecideInput): Decision {
  const cluster = input.cluster;
  if (!cluster) return decision(input, [], 'no cluster view');
  if (isPaused(input)) return decision(input, [], 'paused: data directory empty, not bootstrapping or cloning');
  const leaderName = cluster.leader?.name ?? null;
  if (leaderName === input.self.name) {
    return decision(input, [{ kind: 'releaseLeader' }], 'releasing the leader key: the data directory is empty');
  }
  if (cluster.initialize === null && leaderName === null && input.self.tags.nofailover === true) {
    return decision(input, [], 'not bootstrapping: tagged nofailover; waiting for another member to bootstrap the cluster');
  }
  if (cluster.initialize === null && leaderName === null) {
    // The key first: even a brand-new primary only ever runs under this node's lease (S1).
    return decision(input, [{ kind: 'claimInitialize', systemId: '' }, { kind: 'acquireLeader' }, { kind: 'startJob', job: { kind: 'bootstrap' } }],
      'bootstrapping a new cluster: no initialize key and no leader');
  }
  if (leaderName === null) return decision(input, [], 'waiting for the leader to bootstrap the cluster');
  const source = pickCloneSource(input, leaderName);
  if (!source) return decision(input, [], `waiting for leader ${leaderName} to run before cloning from it`);
  return decision(input, [{ kind: 'startJob', job: { kind: 'clone', source } }],
    `cloning from ${source.name}: data directory is empty`);
}

function pickCloneSource(input: DecideInput, leaderName: string) {
  const members = input.cluster?.members ?? [];
  const tagged = members.find((m) => m.name !== input.self.name && m.tags.clonefrom === true && m.state === 'running');
  const leader = members.find((m) => m.name === leaderName && m.state === 'running');
  const chosen = tagged ?? leader;
  return chosen ? memberRef(chosen) : null;
}

function whenUnlocked(input: DecideInput): Decision {
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
  if (probe.role === 'primary' && probe.running) return `the former leader ${old} still reports itself primary`;
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
  let rank = 'requested candidate';
  if (requested === input.self.name) {
    const primary = runningPrimaryPeer(input);
    if (primary !== null) return decision(input, [], `not promoting: member ${primary} still reports itself primary`);
    const newer = newerTimelinePeer(input, self.catchUp?.newest);
    if (newer !== null) return decision(input, [], `not promoting: ${newer}`);
  } else {
    const best = bestAmongPeers(input, self.catchUp ? { newest: self.catchUp.newest } : {});
    if (!best.ok) return decision(input, [], `not promoting: ${best.reason}`);
    rank = `best candidate, ${best.detail}`;
  }
  const former = formerLeaderMayWrite(input, requested !== input.self.name);
  if (former !== null) return decision(input, [], `not promoting: ${former}`);
  const early = probedBeforeDeadline(input);
  if (early !== null) return decision(input, [{ kind: 'probeAgain' }], `not promoting yet: ${early}`);
  // Slots first: replicas follow as soon as the key changes hands, before the promotion ends.
  const acquire: Action = { kind: 'acquireLeader', statusRev: input.cluster?.statusModRevision ?? 0, ...(input.cluster ? { viewRevision: input.cluster.revision } : {}) };
  // Synchronous mode: the sync key names this node (and s_s_n is set) before it takes a write.
  const sync = local.inRecovery ? prepromoteSync(input) : [];
  const actions: Action[] = [acquire, ...clusterKeys(input), ...sync, { kind: 'createSlots', members: slotMembers(input) }];
  if (local.inRecovery) {
    const why = requested === input.self.name ? 'manual failover/switchover' : 'automatic failover';
    actions.push(promoteAction(input, self.catchUp, why));
  }
  actions.push({ kind: 'publishLeaderStatus' });
  // A request for another candidate that could not lead is void once someone else leads; left in
  // place, the new leader would act on it and hand over again.
  const fo = input.cluster?.failover;
  if (fo && requested !== input.self.name) actions.push({ kind: 'deleteFailover', modRevision: fo.modRevision });
  return decision(input, actions, `taking the leader key: ${self.detail}; ${rank}`);
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
