// synchronous_mode: quorum (SPEC 5.10), Patroni 4 semantics, as pure decisions: the leader's
// next writes of synchronous_standby_names (`ANY numsync (sync)`) and of the sync key
// (`quorum` of `voters`), ordered by QuorumStateResolver (quorum-resolver.ts, where the
// invariant is stated), the promotion-time s_s_n, and the votes a candidate needs.
import type { Lsn } from './cluster.js';
import type { Action, DecideInput, Memory } from './decide-types.js';
import type { PgRunning } from './local-pg.js';
import { parseSyncStandbyNames, quorumActive, renderAny, type ParsedSsn } from './quorum-names.js';
import { QuorumError, QuorumStateResolver, type QuorumState, type Transition } from './quorum-resolver.js';
import { listNames, type SyncCandidate } from './sync-names.js';

export function quorumModeOn(input: Pick<DecideInput, 'config'>): boolean {
  return input.config.synchronous_mode === 'quorum';
}

/** Patroni's min_synchronous_nodes: strict mode keeps at least one standby in every commit. */
function minSync(input: DecideInput): number {
  return input.config.synchronous_mode_strict ? 1 : 0;
}

export interface QuorumStep {
  readonly actions: readonly Action[];
  readonly note: string;
  readonly memory: Partial<Memory>;
}

type Base = NonNullable<Memory['syncBase']>;

/**
 * Patroni's _ready_replicas: a standby counts as confirmed once it reported (sync_state quorum)
 * a position past the primary's when s_s_n last changed, so it holds every commit acknowledged
 * before the change. Unlike Patroni, a change of s_s_n confirms every standby anew: one that
 * lagged behind commits acknowledged by others under the previous value is not counted.
 */
function trackBase(prev: Memory['syncBase'], ssn: string, parsed: ParsedSsn, local: PgRunning, active: readonly SyncCandidate[]): Base {
  const fresh = prev === null || prev.value !== ssn;
  const lsn: Lsn = fresh ? local.flushLsn ?? local.currentLsn ?? 0 : prev.lsn;
  const kept = fresh ? [] : prev.ready ?? [];
  const reached = active.filter((c) => parsed.members.includes(c.name) && c.syncState === 'quorum' && c.lsn >= lsn).map((c) => c.name);
  const ready = [...new Set([...kept, ...reached])].sort();
  return { value: ssn, lsn, ready };
}

const setNames = (value: string): Action => ({ kind: 'setSyncStandbyNames', value });

/** The leader, PostgreSQL running as primary: the next quorum-mode step. */
export function leaderQuorumStep(input: DecideInput, local: PgRunning): QuorumStep {
  const self = input.self.name;
  const ssn = local.syncStandbyNames ?? '';
  const parsed = parseSyncStandbyNames(ssn);
  const active = quorumActive(local, input.cluster?.members ?? [], self, input.config);
  const base = trackBase(input.memory.syncBase, ssn, parsed, local, active);
  const memory = { syncBase: base };
  const key = input.cluster?.sync ?? null;
  if (key === null || key.value.leader === null) {
    const action: Action = { kind: 'writeSync', leader: self, standbys: [], quorum: 0, modRevision: key?.modRevision ?? 0 };
    return { actions: [action], note: `quorum mode: ${key === null ? 'no sync key' : 'the sync key names no leader'}; writing it with this node as leader and no voters`, memory };
  }
  const quorum = key.value.quorum ?? 0;
  const voters = key.value.syncStandby;
  if (key.value.leader === self) {
    const strict = strictStep(input, local, parsed, voters, quorum, active.length);
    if (strict !== null) return { ...strict, memory };
  }
  const activeNames = active.map((c) => c.name);
  const state: QuorumState = {
    leader: key.value.leader, quorum, voters, numsync: parsed.num, sync: parsed.members,
    numsyncConfirmed: base.ready?.filter((n) => activeNames.includes(n)).length ?? 0, active: activeNames,
    syncWanted: Math.max(input.config.synchronous_node_count, minSync(input)), leaderWanted: self,
    // Never guessed from the key (Patroni does after a restart): a standby counts once seen past the base.
    inferConfirmed: false,
  };
  let next: Transition | null;
  try {
    next = nextTransition(state);
  } catch (e) {
    if (!(e instanceof QuorumError)) throw e;
    return { actions: [], note: `quorum mode: no safe next step (${e.message}); waiting`, memory };
  }
  const { actions, notes } = toActions(next, key.modRevision);
  if (actions.length === 0 && parsed.type !== 'quorum' && parsed.members.length > 0) {
    // Switched from synchronous_mode: true: `n (a,b)` waits for all of them, as ANY n does.
    const want = renderAny(parsed.members, parsed.num);
    return { actions: [setNames(want)], note: `quorum mode: rewriting synchronous_standby_names as '${want}' (the same standbys, any ${parsed.num} of them)`, memory };
  }
  if (actions.length === 0) {
    const state = voters.length > 0 ? `quorum ${quorum} of ${listNames(voters)}, synchronous_standby_names '${ssn}'` : `no voters (${activeNames.length > 0 ? `waiting for ${listNames(activeNames)} to confirm` : 'no eligible standby streams'})`;
    return { actions: [], note: `quorum mode: ${state}`, memory };
  }
  return { actions, note: `quorum mode: ${notes.join(', then ')}`, memory };
}

/**
 * Strict mode with fewer standbys streaming than it requires: commits wait for the voters the
 * key lists (any |voters| - quorum of them) or, with none, for the placeholder that matches no
 * member, as Patroni's _handle_synchronous_strict_mode. Non-strict with nobody streaming and
 * no voters: s_s_n is emptied (asynchronous). Null: the resolver decides.
 */
function strictStep(input: DecideInput, local: PgRunning, parsed: ParsedSsn, voters: readonly string[], quorum: number, activeCount: number): Omit<QuorumStep, 'memory'> | null {
  const ssn = local.syncStandbyNames ?? '';
  const min = minSync(input);
  if (activeCount < min) {
    const want = renderAny(voters, Math.max(min, voters.length - quorum));
    const waitFor = voters.length > 0 ? listNames(voters) : 'a standby to stream';
    if (ssn !== want) {
      return { actions: [setNames(want)], note: `quorum mode, synchronous_mode_strict: no standby streams; setting synchronous_standby_names to '${want}' so commits wait for ${waitFor}` };
    }
    return { actions: [], note: `quorum mode, synchronous_mode_strict: no standby streams; commits wait for ${waitFor}` };
  }
  if (min === 0 && activeCount === 0 && voters.length === 0 && (parsed.members.length > 0 || parsed.num > 0)) {
    return { actions: [setNames('')], note: 'quorum mode: no standby streams and no voters; replication is asynchronous until one does' };
  }
  return null;
}

/**
 * The next transition, one per tick: the next tick re-reads both states and re-counts the
 * confirmed standbys against the primary's position after this change, so a key write that
 * lowers the quorum never trusts a standby that has not caught up with the s_s_n it follows
 * (Patroni runs several per loop and keeps a standby confirmed across s_s_n changes).
 */
export function nextTransition(state: QuorumState): Transition | null {
  const first = new QuorumStateResolver(state).transitions()[0];
  return first === undefined || first.type === 'restart' ? null : first;
}

function toActions(t: Transition | null, modRevision: number): { actions: Action[]; notes: string[] } {
  if (t === null || t.type === 'restart') return { actions: [], notes: [] };
  if (t.type === 'sync') {
    const value = renderAny(t.names, t.num);
    return { actions: [setNames(value)], notes: [`setting synchronous_standby_names to '${value}'`] };
  }
  const names = [...t.names].sort();
  return {
    actions: [{ kind: 'writeSync', leader: t.leader, standbys: names, quorum: t.num, modRevision }],
    notes: [`writing the sync key: leader ${t.leader}, quorum ${t.num} of ${listNames(names)}`],
  };
}

/**
 * Before pg_promote (Patroni's _process_quorum_prepromote): s_s_n waits for the former leader
 * and voters other than this node, so many of them that the key as it stands stays safe; the
 * key itself is rewritten by the leader step once this node leads (the former leader joins the
 * voters in its place).
 */
export function quorumPrepromote(input: DecideInput, local: PgRunning): Action[] {
  const key = input.cluster?.sync?.value;
  const self = input.self.name;
  const quorum = key?.leader ? key.quorum ?? 0 : 0;
  const members = key?.leader ? [key.leader, ...key.syncStandby] : [];
  const numsync = members.length - quorum - (members.includes(self) ? 1 : 0);
  const sync = members.filter((n) => n !== self);
  // A key whose quorum is all its voters gives 0, which PostgreSQL refuses (ANY 0): wait for one.
  const want = renderAny(sync, Math.max(numsync, minSync(input), sync.length > 0 ? 1 : 0));
  return (local.syncStandbyNames ?? '') === want ? [] : [setNames(want)];
}

/**
 * Quorum votes (Patroni's _is_healthiest_node): a candidate needs `quorum` voters (the leader
 * and sync_standby of the key) other than itself to answer with PostgreSQL running and no more
 * WAL than it has; then one of them holds every acknowledged commit, and so does it. The former
 * leader needs none while no member is ahead of it.
 */
export function quorumVotes(input: DecideInput, mine: Lsn): { ok: true; detail: string } | { ok: false; reason: string } {
  const key = input.cluster?.sync?.value;
  if (!quorumModeOn(input) || !key?.leader) return { ok: true, detail: '' };
  const self = input.self.name;
  const votingSet = [key.leader, ...key.syncStandby];
  const quorum = key.quorum ?? 0;
  let votes = votingSet.includes(self) ? 0 : -1;
  let ahead = 0;
  const voted: string[] = [];
  for (const p of input.peers.values()) {
    if (!p.reachable || p.name === self || !p.running || p.walPosition === null) continue;
    if (p.walPosition > mine) { ahead++; continue; }
    if (p.walPosition > 0 && votingSet.includes(p.name)) { votes++; voted.push(p.name); }
  }
  if (votes >= quorum) return { ok: true, detail: `quorum ${quorum} reached (votes from ${listNames(voted)})` };
  if (ahead === 0 && key.leader === self) return { ok: true, detail: 'the former leader in quorum mode, no member ahead' };
  return { ok: false, reason: `quorum mode: ${Math.max(votes, 0)} vote(s) from ${listNames(voted)}, quorum ${quorum} of ${listNames(votingSet)} not reached` };
}
