// decide(): observed state in, actions + one reason sentence + memory out. Pure and synchronous.
// Branches: safety first (S1), then whatever the data dir and the leader key call for.
import type { Action, DecideInput, Decision, FinishedJob, Memory } from './decide-types.js';
import { decision, isPaused, isWritablePrimary, leaseValid, msLeft } from './decision.js';
import { bestAmongPeers, selfEligibility } from './eligibility.js';
import { whenLeader } from './decide-leader.js';
import { whenFollower } from './decide-follower.js';
import { forgetOnLeaderChange, holdBackRepeatedJob, recordJobOutcome } from './job-backoff.js';
import { memberRef } from './member-ref.js';
import { trackLeader } from './former-leader.js';
import { trackStartingPeers } from './starting-peers.js';
import { whenUnlocked } from './decide-unlocked.js';
import { keepSyncBase } from './sync.js';
import { withConfigApply } from './config-apply.js';
import { answerRequests } from './requests.js';
import { probeReason } from './probe-policy.js';

export function decide(raw: DecideInput): Decision {
  return probeFirst(raw) ?? answerRequests(raw, decideOwn(raw));
}

/**
 * Probing costs up to its timeout per dead member, so the tick asks the peers only when this
 * decision will read them (probe-policy.ts says when): it decides first without them, and here
 * decide() asks for them instead of deciding on an empty map. Memory is left as it was: the
 * decision on the answers is the one that counts.
 */
function probeFirst(raw: DecideInput): Decision | null {
  if (raw.peersProbed !== false) return null;
  const why = probeReason({ cluster: raw.cluster, local: raw.local, self: raw.self.name, primaryStartTimeoutSec: raw.config.primary_start_timeout });
  if (why === null) return null;
  return { actions: [{ kind: 'probePeers', why }], reason: `asking the other members first: ${why}`, memory: raw.memory };
}

/** What the agent does on its own; operator requests are answered around it. */
function decideOwn(raw: DecideInput): Decision {
  const memory = trackStartingPeers({ ...raw, memory: trackLeader(raw) });
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
  if (!leader) return keyOrFence(input, whenUnlocked(input));
  if (leader.name === input.self.name) return whenLeader(input);
  return whenFollower(input, leader.name);
}

/**
 * S1: a writable primary without the leader key either takes it back in this decision or is
 * fenced. enforceLease lets it through when it may take the key, but the race can still hold it
 * back (a former leader that may be writable, a probe to repeat); left running, it stayed writable
 * without a key for as long as that lasted (seed 451 of set 5: a Patroni member claiming primary
 * was taken for a former leader). Fenced, it starts read-only and competes with its WAL.
 */
function keyOrFence(input: DecideInput, d: Decision): Decision {
  if (!isWritablePrimary(input) || isPaused(input)) return d;
  if (d.actions.some((a) => a.kind === 'acquireLeader' || a.kind === 'fence')) return d;
  return decision(input, [{ kind: 'fence', reason: 'primary without the leader key that cannot take it back now' }],
    `fencing: postgresql runs as primary without the leader key and cannot take it back now (${d.reason})`, d.memory);
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
  // The read-only start is under way before the key goes: a race probing us in between must see
  // a member starting postgresql (it waits for it), not one stopped with no job, which it ranks
  // out although this former primary may hold the most WAL (seed 60 of set 5).
  const startReadOnly: Action[] = [...(input.fenced ? [{ kind: 'clearFence' } as const] : []), { kind: 'startJob', job: { kind: 'startReplica', leader: null } }];
  return decision(input, [...startReadOnly, { kind: 'releaseLeader' }],
    `releasing the leader key: postgresql failed to start as primary after a crash (${firstLine(last.error)}); starting it read-only so its wal position can compete, and a replica can take over`,
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
