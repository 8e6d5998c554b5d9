// Synchronous mode (SPEC 5.10, S3), Patroni 4.x semantics, as pure decisions.
//
// The invariant kept at every instant: every standby the `sync` key allows to be promoted has
// every commit PostgreSQL acknowledged. synchronous_standby_names names the chosen standbys as
// "all of them" (`n (a,b)`), so that holds when the key lists only standbys that
// synchronous_standby_names names and that have flushed past the primary's position at the time
// it started naming them. Hence the order: a standby is added to synchronous_standby_names
// first and to the key once confirmed; it is removed from the key first and from
// synchronous_standby_names after. While the key lists nobody, only its leader may promote.
import type { Lsn } from './cluster.js';
import type { Action, DecideInput, Memory } from './decide-types.js';
import type { PgRunning } from './local-pg.js';
import { leaderQuorumStep, quorumModeOn, quorumPrepromote } from './quorum.js';
import { listNames, pickSyncStandbys, renderSyncStandbyNames, sameSet, syncCandidates } from './sync-names.js';

/** synchronous_mode true or quorum: the sync key decides who may be promoted. */
export function syncModeOn(input: Pick<DecideInput, 'config'>): boolean {
  return input.config.synchronous_mode === true || input.config.synchronous_mode === 'quorum';
}

/**
 * May this member take the leader key automatically (S2)? With synchronous mode on and a sync
 * key naming a leader, only that leader and the standbys the key lists (Patroni's
 * sync.matches(name, check_leader=True)); without a key (mode just turned on) anyone may. In
 * quorum mode the candidate also needs the votes of a quorum of them (quorum.ts quorumVotes).
 */
export function syncAllows(input: DecideInput, name: string): boolean {
  if (!syncModeOn(input)) return true;
  const sync = input.cluster?.sync?.value;
  if (!sync || sync.leader === null) return true;
  return sync.leader === name || sync.syncStandby.includes(name);
}

/** A replica listed in the sync key of the current leader (Patroni's is_sync_standby), synchronous_mode true. */
export function isSyncStandby(input: Pick<DecideInput, 'config' | 'cluster'>, name: string): boolean {
  return input.config.synchronous_mode === true && listedByLeader(input, name);
}

/** The same in quorum mode: a voter of the current leader's sync key (`quorum_standby`). */
export function isQuorumStandby(input: Pick<DecideInput, 'config' | 'cluster'>, name: string): boolean {
  return input.config.synchronous_mode === 'quorum' && listedByLeader(input, name);
}

function listedByLeader(input: Pick<DecideInput, 'cluster'>, name: string): boolean {
  const sync = input.cluster?.sync?.value;
  const leader = input.cluster?.leader?.name;
  return sync !== undefined && leader !== undefined && sync.leader === leader && sync.syncStandby.includes(name);
}

export interface SyncStep {
  readonly actions: readonly Action[];
  /** Part of the reason sentence; null when there is nothing to say (mode off, nothing to do). */
  readonly note: string | null;
  readonly memory: Partial<Memory>;
}

function trackBase(prev: Memory['syncBase'], ssn: string, local: PgRunning): NonNullable<Memory['syncBase']> {
  if (prev !== null && prev.value === ssn) return prev;
  const lsn: Lsn = local.flushLsn ?? local.currentLsn ?? 0;
  return { value: ssn, lsn };
}

/**
 * The recorded base only vouches for a standby while this node has led a running primary without
 * a break: dropped otherwise, it is recorded again (later, so more conservatively) when it leads.
 */
export function keepSyncBase(input: DecideInput, memory: Memory): Memory {
  if (memory.syncBase === null) return memory;
  const leads = input.cluster?.leader?.name === input.self.name && input.local.kind === 'running' && !input.local.inRecovery;
  return leads ? memory : { ...memory, syncBase: null };
}

const put = (leader: string, standbys: readonly string[], modRevision: number): Action => ({ kind: 'writeSync', leader, standbys, modRevision });
const setNames = (value: string | null): Action => ({ kind: 'setSyncStandbyNames', value });

/** The leader, PostgreSQL running as primary, not paused: the next synchronous-mode step. */
export function leaderSyncStep(input: DecideInput): SyncStep {
  const local = input.local;
  if (local.kind !== 'running' || local.inRecovery) return { actions: [], note: null, memory: {} };
  const ssn = local.syncStandbyNames ?? '';
  const base = trackBase(input.memory.syncBase, ssn, local);
  const memory = { syncBase: base };
  const key = input.cluster?.sync ?? null;
  const self = input.self.name;
  if (!syncModeOn(input)) return disable(input, local, memory);
  if (quorumModeOn(input)) return leaderQuorumStep(input, local);
  if (key === null || key.value.leader !== self) {
    const was = key === null ? 'no sync key' : `the sync key names ${key.value.leader ?? 'no leader'}`;
    return { actions: [put(self, [], key?.modRevision ?? 0)], note: `synchronous mode: ${was}; writing it with this node as leader and no synchronous standby before choosing one`, memory };
  }
  const strict = input.config.synchronous_mode_strict;
  const voters = key.value.syncStandby;
  const candidates = syncCandidates(local, input.cluster?.members ?? [], self, input.config.postgresql.parameters['synchronous_commit']);
  const picked = pickSyncStandbys(candidates, local, input.config);
  // Named in synchronous_standby_names long enough to hold every acknowledged commit.
  const confirmed = candidates
    .filter((c) => c.syncState === 'sync' && (voters.includes(c.name) || (base.value === ssn && c.lsn >= base.lsn)))
    .map((c) => c.name);
  if (strict && picked.length === 0) return strictWithoutStandby(voters, ssn, memory);
  const keep = voters.filter((v) => confirmed.includes(v) && picked.includes(v));
  if (!sameSet(keep, voters)) {
    const gone = voters.filter((v) => !keep.includes(v));
    return { actions: [put(self, keep, key.modRevision)], note: `synchronous mode: removing ${listNames(gone)} from the sync key before synchronous_standby_names stops waiting for ${gone.length > 1 ? 'them' : 'it'} (${whyGone(gone, candidates.map((c) => c.name), picked)})`, memory };
  }
  const want = renderSyncStandbyNames(picked, strict);
  if (ssn !== want) {
    const what = picked.length === 0 ? 'no standby streams; replication is asynchronous until one does' : `the sync key follows once ${listNames(picked)} ${picked.length > 1 ? 'have' : 'has'} caught up`;
    return { actions: [setNames(want)], note: `synchronous mode: setting synchronous_standby_names to '${want}'; ${what}`, memory };
  }
  const next = picked.filter((p) => confirmed.includes(p));
  if (!sameSet(next, voters)) {
    const added = next.filter((n) => !voters.includes(n));
    return { actions: [put(self, next, key.modRevision)], note: `synchronous mode: adding ${listNames(added)} to the sync key: synchronous and flushed past ${base.lsn}`, memory };
  }
  const state = voters.length > 0 ? `synchronous standby ${listNames(voters)}` : picked.length > 0 ? `waiting for ${listNames(picked)} to catch up before naming ${picked.length > 1 ? 'them' : 'it'} synchronous` : 'no synchronous standby (no eligible standby streams)';
  return { actions: [], note: state, memory };
}

/** synchronous_mode_strict with no standby that can be synchronous: commits wait (never async). */
function strictWithoutStandby(voters: readonly string[], ssn: string, memory: SyncStep['memory']): SyncStep {
  const want = renderSyncStandbyNames(voters, true);
  const waitFor = voters.length > 0 ? listNames(voters) : 'a standby to stream';
  if (ssn !== want) {
    return { actions: [setNames(want)], note: `synchronous_mode_strict: no standby can be synchronous; setting synchronous_standby_names to '${want}' so commits wait for ${waitFor}`, memory };
  }
  return { actions: [], note: `synchronous_mode_strict: no standby can be synchronous; commits wait for ${waitFor}`, memory };
}

function whyGone(gone: readonly string[], streaming: readonly string[], picked: readonly string[]): string {
  const notStreaming = gone.filter((g) => !streaming.includes(g));
  if (notStreaming.length === gone.length) return 'not streaming';
  const notPicked = gone.filter((g) => !picked.includes(g));
  if (notPicked.length === gone.length) return 'no longer chosen';
  return 'not confirmed synchronous';
}

/** Synchronous mode off: delete the key first (as Patroni does), then give s_s_n back to the user. */
function disable(input: DecideInput, local: PgRunning, memory: Partial<Memory>): SyncStep {
  const key = input.cluster?.sync ?? null;
  if (key !== null) {
    return { actions: [{ kind: 'deleteSync', modRevision: key.modRevision }], note: 'synchronous_mode is off: deleting the sync key', memory };
  }
  if (local.syncStandbyNamesOurs === true) {
    return { actions: [setNames(null)], note: 'synchronous_mode is off: resetting synchronous_standby_names to the configured value', memory };
  }
  return { actions: [], note: null, memory };
}

/**
 * Before pg_promote (Patroni's _process_multisync_prepromote): the new leader names itself in
 * the sync key. Non-strict: with no standby (it picks anew once replicas stream from it) and
 * asynchronous until then. Strict: with the former synchronous standbys other than itself, and
 * synchronous_standby_names set to them (or the placeholder) before it accepts a single write.
 */
export function prepromoteSync(input: DecideInput): Action[] {
  const local = input.local;
  if (local.kind !== 'running') return [];
  if (!syncModeOn(input)) return local.syncStandbyNamesOurs === true ? [setNames(null)] : [];
  if (quorumModeOn(input)) return quorumPrepromote(input, local);
  const self = input.self.name;
  const strict = input.config.synchronous_mode_strict;
  const key = input.cluster?.sync ?? null;
  const standbys = strict ? (key?.value.syncStandby ?? []).filter((n) => n !== self) : [];
  const actions: Action[] = [];
  if (key === null || key.value.leader !== self || !sameSet(key.value.syncStandby, standbys)) {
    actions.push(put(self, standbys, key?.modRevision ?? 0));
  }
  const want = renderSyncStandbyNames(standbys, strict);
  if ((local.syncStandbyNames ?? '') !== want) actions.push(setNames(want));
  return actions;
}
