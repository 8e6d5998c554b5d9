// Another member holds the leader key: be its streaming replica (SPEC 5.2, 5.3, 5.7).
import type { DecideInput, Decision, MemberRef } from './decide-types.js';
import { decision, isPaused, stoppedAsPrimary } from './decision.js';
import { walPosition } from './local-pg.js';
import { memberRef } from './member-ref.js';

/** How long a replica may fail to stream from a newer-timeline leader before it rejoins through rewind. */
export const FOLLOW_GRACE_MS = 5_000;

export function whenFollower(input: DecideInput, leaderName: string): Decision {
  const leaderMember = input.cluster?.members.find((m) => m.name === leaderName);
  const leader = leaderMember ? memberRef(leaderMember) : null;
  if (!leader) return decision(input, [], `waiting for leader ${leaderName} to publish its member key`);
  const local = input.local;
  const memory = { lastLeader: leaderName, primaryDownSinceMs: null };
  if (local.kind === 'unresponsive') return decision(input, [], `postgresql is unresponsive (${local.detail}); waiting`, memory);
  if (local.kind === 'down') return followerDown(input, leader, memory);
  if (!local.inRecovery) {
    // Only reachable in pause: enforceLease demotes otherwise.
    return decision(input, [], `paused: postgresql runs as primary while ${leaderName} holds the leader key`, memory);
  }
  const past = pastTheFork(input, leaderMember?.timeline ?? 0);
  if (past !== null && !isPaused(input)) {
    return decision(input, [{ kind: 'startJob', job: { kind: 'rejoin', leader } }],
      `rejoining ${leaderName} through the fork check: ${past}; postgresql will not follow it as it is`, { ...memory, followSinceMs: null });
  }
  if (followsLeader(input, leader)) {
    const streaming = local.walReceiver?.status === 'streaming';
    const archiveOnly = input.self.tags.nostream === true;
    if (streaming) return decision(input, [], `replica streaming from ${leaderName}`, { ...memory, followSinceMs: null, followLeader: leaderName });
    const since = input.memory.followLeader === leaderName ? input.memory.followSinceMs ?? input.nowMs : input.nowMs;
    const leaderTimeline = leaderMember?.timeline ?? 0;
    if (!isPaused(input) && leaderTimeline > local.timeline && input.nowMs - since > FOLLOW_GRACE_MS) {
      return decision(input, [{ kind: 'startJob', job: { kind: 'rejoin', leader } }],
        `rejoining ${leaderName} through the fork check: not streaming for ${input.nowMs - since} ms and its timeline ${leaderTimeline} is newer than ours ${local.timeline}`,
        { ...memory, followSinceMs: null });
    }
    if (archiveOnly) return decision(input, [], `replica of ${leaderName} from the wal archive (nostream)`, { ...memory, followSinceMs: since, followLeader: leaderName });
    return decision(input, [], `replica of ${leaderName}, not streaming yet (wal receiver ${local.walReceiver?.status ?? 'absent'})`,
      { ...memory, followSinceMs: since, followLeader: leaderName });
  }
  return decision(input, [{ kind: 'follow', leader }], `following the new leader ${leaderName} (reload, no restart)`,
    { ...memory, followSinceMs: input.nowMs, followLeader: leaderName });
}

/**
 * A replica still on an older timeline whose WAL goes past the point where the history key says the
 * cluster left that timeline (a former primary's end-of-recovery records, say): PostgreSQL refuses
 * to follow the newer timeline, so waiting FOLLOW_GRACE_MS for its WAL receiver only delays the
 * rewind (and keeps this member out of the race meanwhile).
 */
function pastTheFork(input: DecideInput, leaderTimeline: number): string | null {
  const local = input.local;
  if (local.kind !== 'running' || !local.inRecovery || leaderTimeline <= local.timeline) return null;
  const entry = (input.cluster?.history?.value ?? []).find((h) => h.timeline === local.timeline);
  const pos = walPosition(local) ?? 0;
  if (!entry || pos <= entry.switchLsn) return null;
  return `own wal ${pos} on timeline ${local.timeline} is past ${entry.switchLsn}, where the cluster left it`;
}

function followsLeader(input: DecideInput, leader: MemberRef): boolean {
  const local = input.local;
  if (local.kind !== 'running') return false;
  // A nostream replica has no upstream to point at a new leader: it replays the archive.
  if (input.self.tags.nostream === true) return true;
  const info = local.primaryConninfo ?? '';
  const byConninfo = new RegExp(`(^|\\s)host=${escapeRe(leader.host)}(\\s|$)`).test(info) && new RegExp(`(^|\\s)port=${leader.port}(\\s|$)`).test(info);
  if (byConninfo) return true;
  const wr = local.walReceiver;
  return wr !== null && wr.senderHost === leader.host && wr.senderPort === leader.port;
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function followerDown(input: DecideInput, leader: MemberRef, memory: object): Decision {
  // A switchover completes in pause too: the old leader rejoins the member it handed over to.
  const handedToLeader = input.memory.handedOver?.to === leader.name;
  if (isPaused(input) && !handedToLeader) return decision(input, [], `paused: postgresql is stopped; not starting it`, memory);
  const failed = input.memory.rejoinFailed;
  if (failed && failed.leader === leader.name) return afterFailedRejoin(input, leader, failed, memory);
  if (input.fenced || stoppedAsPrimary(input)) {
    const clear = input.fenced ? [{ kind: 'clearFence' } as const] : [];
    return decision(input, [...clear, { kind: 'startJob', job: { kind: 'rejoin', leader } }],
      `rejoining ${leader.name} as a replica: this node was a primary, checking the fork point first (S4)`, memory);
  }
  return decision(input, [{ kind: 'startJob', job: { kind: 'startReplica', leader } }], `starting postgresql as a replica of ${leader.name}`, memory);
}

/**
 * Give up per policy (S4, S5): a rewind that failed for good is followed by a fresh clone only when
 * remove_data_directory_on_rewind_failure allows it (the diverged data directory is moved aside,
 * never deleted); otherwise, and after any other lasting failure, the node stays stopped and says so.
 */
function afterFailedRejoin(input: DecideInput, leader: MemberRef, failed: NonNullable<DecideInput['memory']['rejoinFailed']>, memory: object): Decision {
  if (failed.rewindFailed === true && input.self.recloneOnRewindFailure === true) {
    return decision(input, [{ kind: 'startJob', job: { kind: 'reinit', source: leader } }],
      `re-cloning from ${leader.name}: pg_rewind could not rejoin it (${failed.error}) and remove_data_directory_on_rewind_failure allows it; the diverged data directory is kept aside`, memory);
  }
  const policy = failed.rewindFailed === true ? ' (remove_data_directory_on_rewind_failure is off)' : '';
  return decision(input, [], `staying stopped: rejoining ${leader.name} failed (${failed.error})${policy}; needs reinit or operator action`, memory);
}
