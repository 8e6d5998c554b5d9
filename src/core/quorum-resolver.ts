// Quorum commit (synchronous_mode: quorum): the order of changes to synchronous_standby_names
// (`ANY numsync (sync)`) and to the sync key (`quorum` of `voters`), a port of Patroni 4's
// QuorumStateResolver (patroni/quorum.py), kept close to it so its reasoning carries over.
//
// The invariant, at every instant: a commit PostgreSQL acknowledged is on the leader and on
// `numsync` members of `sync`; a candidate takes the key only with the votes of `quorum` voters
// (plus itself), none of them ahead of it. Any `quorum + 1` members of `voters` (and the leader)
// meet any `numsync` members of `sync` when
//
//     |voters ∪ sync ∪ {leader}| <= quorum + numsync + 1
//
// so whatever set of voters a candidate gathers holds a member that has the commit, and the
// candidate is not behind it. While the two writes are in flight one set must contain the
// other. Hence the rule: an increase of numsync or of quorum is written first, a decrease last;
// a new standby goes into the key before s_s_n when s_s_n is not empty, a departing one leaves
// s_s_n first unless that empties it. Each step re-checks the invariant and refuses to go on
// (QuorumError) rather than write a state that breaks it.

import { AgentError } from '../errors.js';

export class QuorumError extends AgentError<'quorum-state'> {
  constructor(message: string) {
    super('quorum-state', message);
  }
}

export type Transition =
  | { readonly type: 'sync'; readonly leader: string; readonly num: number; readonly names: ReadonlySet<string> }
  | { readonly type: 'quorum'; readonly leader: string; readonly num: number; readonly names: ReadonlySet<string> }
  | { readonly type: 'restart'; readonly leader: string; readonly num: number; readonly names: ReadonlySet<string> };

export interface QuorumState {
  /** The sync key: leader, quorum, voters (sync_standby). */
  readonly leader: string;
  readonly quorum: number;
  readonly voters: readonly string[];
  /** synchronous_standby_names: ANY numsync (sync). */
  readonly numsync: number;
  readonly sync: readonly string[];
  /** Members of `sync` known to have reached the primary's position when they were named. */
  readonly numsyncConfirmed: number;
  /** Streaming standbys eligible to be named (pg_stat_replication, member keys, lag, nosync). */
  readonly active: readonly string[];
  /** synchronous_node_count. */
  readonly syncWanted: number;
  /** This node, the leader (it differs from `leader` right after a failover). */
  readonly leaderWanted: string;
  /**
   * No standby confirmed: infer how many are from the key, as Patroni does after a restart or a
   * failover (default). False when the count is known: a change of s_s_n resets it on purpose.
   */
  readonly inferConfirmed?: boolean;
}

type S = Set<string>;
const set = (xs: Iterable<string>): S => new Set(xs);
const union = (a: S, b: Iterable<string>): S => new Set([...a, ...b]);
const minus = (a: S, b: S): S => new Set([...a].filter((x) => !b.has(x)));
const inter = (a: S, b: S): S => new Set([...a].filter((x) => b.has(x)));
const subset = (a: S, b: S): boolean => [...a].every((x) => b.has(x));
const eq = (a: S, b: S): boolean => a.size === b.size && subset(a, b);
const properSubset = (a: S, b: S): boolean => a.size < b.size && subset(a, b);
const show = (a: S): string => `(${[...a].sort().join(',')})`;

export class QuorumStateResolver {
  private leader: string;
  private quorum: number;
  private voters: S;
  private numsync: number;
  private sync: S;
  private numsyncConfirmed: number;
  private readonly active: S;
  private readonly syncWanted: number;
  private readonly leaderWanted: string;
  private readonly inferConfirmed: boolean;

  constructor(s: QuorumState) {
    this.leader = s.leader;
    this.quorum = s.quorum;
    this.voters = set(s.voters);
    this.sync = set(s.sync);
    this.numsync = Math.min(s.numsync, this.sync.size);
    this.numsyncConfirmed = s.numsyncConfirmed;
    this.active = set(s.active);
    this.syncWanted = s.syncWanted;
    this.leaderWanted = s.leaderWanted;
    this.inferConfirmed = s.inferConfirmed ?? true;
  }

  /** The transitions to run in order; consecutive ones of the same type merge (the later wins). */
  transitions(): Transition[] {
    const all: Transition[] = [];
    this.generate(all);
    const out: Transition[] = [];
    for (const [i, t] of all.entries()) {
      const next = all[i + 1];
      if (next !== undefined && next.type === t.type) continue;
      out.push(t);
      if (t.type === 'restart') break;
    }
    return out;
  }

  checkInvariants(): void {
    const voters = union(this.voters, [this.leader]);
    const sync = union(this.sync, [this.leaderWanted]);
    const nodes = union(voters, sync).size;
    if (this.voters.size > 0 && !(nodes <= this.quorum + this.numsync + 1)) {
      throw new QuorumError(`quorum and sync not guaranteed to overlap: nodes ${nodes} > quorum ${this.quorum} + numsync ${this.numsync} + 1`);
    }
    if (!(subset(voters, sync) || subset(sync, voters))) {
      throw new QuorumError(`mismatched sets: voters only ${show(minus(voters, sync))}, sync only ${show(minus(sync, voters))}`);
    }
  }

  private quorumUpdate(out: Transition[], quorumIn: number, votersIn: S, leader?: string, adjustQuorum = true): void {
    let quorum = quorumIn;
    let voters = votersIn;
    if (quorum < 0) throw new QuorumError(`quorum ${quorum} < 0 of ${show(voters)}`);
    if (quorum > 0 && quorum >= voters.size) throw new QuorumError(`quorum ${quorum} >= N of ${show(voters)}`);
    const oldLeader = this.leader;
    if (leader !== undefined) {
      this.leader = leader;
    } else if (this.numsyncConfirmed === 0 && this.voters.size === 0) {
      // No standby known to have caught up: the key keeps nobody.
      quorum = 0;
      voters = set([]);
    } else if (adjustQuorum) {
      // Fewer standbys confirmed than numsync: a larger quorum still finds one that has the commits.
      quorum += Math.max(this.numsync - this.numsyncConfirmed, 0);
    }
    if (this.leader === oldLeader && quorum === this.quorum && eq(voters, this.voters)) {
      if (this.voters.size > 0) return;
      // Nothing to write: the caller re-reads the state (standbys may have become synchronous).
      out.push({ type: 'restart', leader: this.leader, num: this.quorum, names: this.voters });
    }
    this.quorum = quorum;
    this.voters = voters;
    this.checkInvariants();
    out.push({ type: 'quorum', leader: this.leader, num: this.quorum, names: this.voters });
  }

  private syncUpdate(out: Transition[], numsync: number, sync: S): void {
    if (numsync < 0) throw new QuorumError(`numsync ${numsync} < 0 of ${show(sync)}`);
    if (numsync > sync.size) throw new QuorumError(`numsync ${numsync} > N of ${show(sync)}`);
    this.numsync = numsync;
    this.sync = sync;
    this.checkInvariants();
    out.push({ type: 'sync', leader: this.leader, num: this.numsync, names: this.sync });
  }

  private generate(out: Transition[]): void {
    try {
      if (this.leaderWanted !== this.leader) {
        // After a failover the former leader joins the voters in place of this node.
        const voters = union(minus(this.voters, set([this.leaderWanted])), [this.leader]);
        if (this.sync.size === 0) this.syncUpdate(out, voters.size - this.quorum, voters);
        this.quorumUpdate(out, this.quorum, voters, this.leaderWanted);
        // Right after the promotion standbys may not stream yet: give them a loop before dropping them.
        if (inter(this.sync, this.active).size === 0) return;
      } else {
        this.checkInvariants();
      }
    } catch (e) {
      if (!(e instanceof QuorumError)) throw e;
      // Whatever the key says, the state that matches what PostgreSQL enforces now is safe. It
      // names this node as leader: Patroni keeps the old one here and then fails its assertion
      // every loop (a key whose quorum equals its voters, then a manual failover).
      this.quorumUpdate(out, this.sync.size - this.numsync, this.sync, this.leader === this.leaderWanted ? undefined : this.leaderWanted);
    }
    if (this.leader !== this.leaderWanted) throw new QuorumError(`leader ${this.leader} is not ${this.leaderWanted}`);
    // After a restart or a failover nothing is confirmed yet: infer it from the quorum.
    if (this.inferConfirmed && this.numsyncConfirmed === 0 && inter(this.sync, this.active).size > 0) {
      this.numsyncConfirmed = Math.min(inter(this.sync, this.active).size, this.voters.size - this.quorum);
    }
    this.nonSteady(out);
    this.removeGone(out);
    this.addNew(out);
    this.replicationFactor(out);
  }

  /** A previous run stopped half-way: finish it. */
  private nonSteady(out: Transition[]): void {
    if (properSubset(this.sync, this.voters)) {
      const removeFromVoters = minus(this.voters, union(this.sync, this.active));
      if (removeFromVoters.size > 0) {
        this.quorumUpdate(out, this.voters.size - removeFromVoters.size - this.numsync, minus(this.voters, removeFromVoters),
          undefined, minus(this.sync, this.active).size === 0);
      }
      const addToSync = minus(inter(this.voters, this.active), this.sync);
      if (addToSync.size > 0) this.syncUpdate(out, this.numsync, union(this.sync, addToSync));
    } else if (properSubset(this.voters, this.sync)) {
      let removeFromSync = minus(this.sync, this.active);
      const sync = minus(this.sync, removeFromSync);
      if (removeFromSync.size > 0 && sync.size > 0 && (this.voters.size === 0 || inter(sync, this.voters).size > 0)) {
        this.syncUpdate(out, Math.min(this.numsync, this.sync.size - removeFromSync.size), sync);
      }
      const addToVoters = inter(minus(this.sync, this.voters), this.active);
      if (addToVoters.size > 0) {
        const voters = union(this.voters, addToVoters);
        this.quorumUpdate(out, voters.size - this.numsync, voters);
      }
      removeFromSync = minus(this.sync, this.voters);
      if (removeFromSync.size > 0) {
        this.syncUpdate(out, Math.min(this.numsync, this.sync.size - removeFromSync.size), minus(this.sync, removeFromSync));
      }
    }
    if (!eq(this.voters, this.sync)) throw new QuorumError(`voters ${show(this.voters)} and sync ${show(this.sync)} still differ`);
    const both = union(this.voters, this.sync).size;
    if (this.quorum + Math.min(this.numsync, this.numsyncConfirmed) - both > 0) {
      if (this.numsync > this.syncWanted) {
        this.syncUpdate(out, Math.max(this.syncWanted, this.voters.size - this.quorum), this.sync);
      } else {
        this.quorumUpdate(out, this.sync.size - this.numsync, this.voters);
      }
    } else if (this.numsync === this.syncWanted && this.quorum + this.numsync - both > 0 && this.numsync > this.numsyncConfirmed) {
      this.quorumUpdate(out, this.sync.size - this.numsync, this.voters);
    }
  }

  private removeGone(out: Transition[]): void {
    let toRemove = minus(this.sync, this.active);
    if (toRemove.size > 0 && eq(this.sync, toRemove)) {
      this.quorumUpdate(out, 0, set([]), undefined, false);
      this.syncUpdate(out, 0, set([]));
      return;
    }
    if (toRemove.size === 0) return;
    if (this.quorum > 0) {
      // Lower the quorum first: remove as many as it allows from s_s_n, then from the key.
      const remove = set([...toRemove].sort().reverse().slice(0, this.quorum));
      const sync = minus(this.sync, remove);
      const numsync = Math.min(this.syncWanted > this.numsync ? this.syncWanted : this.numsync, sync.size);
      this.syncUpdate(out, numsync, sync);
      const voters = minus(this.voters, remove);
      toRemove = inter(toRemove, this.sync);
      this.quorumUpdate(out, voters.size - this.numsync, voters, undefined, toRemove.size === 0);
    }
    if (toRemove.size > 0) {
      if (this.quorum !== 0) throw new QuorumError(`quorum ${this.quorum} is not 0 while removing ${show(toRemove)}`);
      const numsync = this.numsync - toRemove.size;
      const sync = minus(this.sync, toRemove);
      const voters = minus(this.voters, toRemove);
      const syncDecrease = numsync - Math.min(this.syncWanted, sync.size);
      const quorum = syncDecrease !== 0 ? Math.min(syncDecrease, voters.size - 1) : 0;
      this.quorumUpdate(out, quorum, voters, undefined, false);
      this.syncUpdate(out, numsync, sync);
    }
  }

  private addNew(out: Transition[]): void {
    let toAdd = minus(this.active, this.sync);
    if (toAdd.size === 0) return;
    const syncWanted = Math.min(this.syncWanted, union(this.sync, toAdd).size);
    let increaseBy = syncWanted - this.numsync;
    if (increaseBy > 0) {
      // Reach the replication factor first; with an empty s_s_n all may join at once.
      const add = this.sync.size > 0 ? set([...toAdd].sort().slice(0, increaseBy)) : toAdd;
      if (this.sync.size > 0) increaseBy = add.size;
      this.syncUpdate(out, this.numsync + increaseBy, union(this.sync, add));
      const voters = union(this.voters, add);
      this.quorumUpdate(out, voters.size - syncWanted, voters);
      toAdd = minus(toAdd, this.sync);
    }
    if (toAdd.size > 0) {
      const voters = union(this.voters, toAdd);
      this.quorumUpdate(out, voters.size - syncWanted, voters, undefined, syncWanted > this.numsyncConfirmed);
      this.syncUpdate(out, syncWanted, union(this.sync, toAdd));
    }
  }

  /** synchronous_node_count changed. */
  private replicationFactor(out: Transition[]): void {
    const increase = Math.min(this.syncWanted, this.sync.size) - this.numsync;
    if (increase > 0) {
      this.syncUpdate(out, this.numsync + increase, this.sync);
      this.quorumUpdate(out, this.voters.size - this.numsync, this.voters);
    } else if (increase < 0) {
      if (this.quorum - increase < this.voters.size) {
        this.quorumUpdate(out, this.voters.size - this.numsync - increase, this.voters, undefined, this.syncWanted > this.numsyncConfirmed);
      }
      this.syncUpdate(out, this.numsync + increase, this.sync);
    }
  }
}
