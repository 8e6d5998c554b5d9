// Which etcd member a call goes to. One etcd3 client per member (so we know, and choose, which
// member answers); calls stick to the member in use and move to the next one on a transport
// failure or a missed attempt deadline. A member that failed is left out of calls until a
// background Status probe gets an answer from it again: a frozen member (SIGSTOP, a hung disk)
// then costs one attempt deadline, once, instead of one per call that happens to pick it.
// The same probe reads each member's version (at start-up and whenever a member comes back).
import type { Etcd3 } from 'etcd3';
import type { Logger } from 'pino';
import { isLeaderTransition, isMemberFailure } from './etcd-client.js';
import { versionWarning } from './etcd-versions.js';
import { errorMessage } from '../errors.js';

/** How often a member that failed is probed; also the retry pace after a whole-cluster outage. */
export const PROBE_DOWN_MS = 1000;
/** Members that answer are re-read this often: a version change, or a member no call goes to dying. */
export const PROBE_UP_MS = 10_000;

export interface EtcdMemberHealth {
  /** host:port as in etcd3.hosts */
  readonly endpoint: string;
  readonly up: boolean;
  /** The member calls go to now. */
  readonly inUse: boolean;
  /** Server version from the last Status answer, null before the first one. */
  readonly version: string | null;
  readonly raftLeader: boolean | null;
  /** Failed attempts against this member since start (transport errors, deadlines, leader changes). */
  readonly errorsTotal: number;
  readonly lastError: string | null;
  /** Known lease-safety bug of its version, null when none. */
  readonly warning: string | null;
}

export interface MemberClient {
  readonly endpoint: string;
  readonly client: Etcd3;
}

interface MemberState {
  readonly m: MemberClient;
  up: boolean;
  version: string | null;
  raftLeader: boolean | null;
  errorsTotal: number;
  lastError: string | null;
  /** When it last failed (a call or a probe); orders the down members. */
  lastFailMs: number;
  warned: string | null;
  lastProbeMs: number;
  /** The probe in flight, so a refresh waits for it instead of starting a second one. */
  probing: Promise<void> | null;
}

export class EtcdMembers {
  private readonly members: MemberState[];
  private current = 0;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    clients: readonly MemberClient[],
    private readonly log: Logger,
    private readonly now: () => number = () => performance.now(),
  ) {
    if (clients.length === 0) throw new TypeError('EtcdMembers needs at least one member');
    this.members = clients.map((m) => ({
      m, up: true, version: null, raftLeader: null, errorsTotal: 0, lastError: null, lastFailMs: -Infinity, warned: null, lastProbeMs: -Infinity, probing: null,
    }));
    // Agents spread over the members instead of all starting on the first one listed.
    this.current = Math.floor(Math.random() * clients.length);
  }

  /** Starts the probe loop; the first round (every member's version) runs at once. */
  start(): void {
    if (this.timer !== null || this.closed) return;
    void this.probeDue();
    this.timer = setInterval(() => void this.probeDue(), Math.min(PROBE_DOWN_MS, 1000));
    this.timer.unref();
  }

  close(): void {
    this.closed = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /**
   * The order one call tries members in: the one in use, the other up ones, then the down ones,
   * the one that failed longest ago first (a frozen member fails every probe, so it comes last).
   */
  order(): MemberClient[] {
    const n = this.members.length;
    const rotated = Array.from({ length: n }, (_, i) => this.members[(this.current + i) % n]!);
    const down = rotated.filter((s) => !s.up).sort((a, b) => a.lastFailMs - b.lastFailMs);
    return [...rotated.filter((s) => s.up), ...down].map((s) => s.m);
  }

  inUse(): string {
    return this.members[this.current]!.m.endpoint;
  }

  succeeded(m: MemberClient): void {
    const s = this.stateOf(m);
    if (!s.up) this.markUp(s, 'answered a call');
    // Stay where calls work: a call that had to move makes its member the one in use.
    if (this.members[this.current] !== s && !this.members[this.current]!.up) this.current = this.members.indexOf(s);
  }

  /** An attempt against m failed with a transport error, a deadline or an etcd leader change. */
  failed(m: MemberClient, err: unknown): void {
    const s = this.stateOf(m);
    s.errorsTotal += 1;
    s.lastError = errorMessage(err);
    s.lastFailMs = this.now();
    // Every member answers so while etcd elects a leader: counted, but no reason to move.
    if (isLeaderTransition(err)) return;
    if (s.up) {
      s.up = false;
      this.log.warn({ endpoint: s.m.endpoint, err: s.lastError }, 'etcd member marked down');
    }
    if (this.members[this.current] === s) this.moveOff(s);
  }

  health(): EtcdMemberHealth[] {
    return this.members.map((s, i) => ({
      endpoint: s.m.endpoint, up: s.up, inUse: i === this.current, version: s.version, raftLeader: s.raftLeader,
      errorsTotal: s.errorsTotal, lastError: s.lastError, warning: s.version === null ? null : versionWarning(s.m.endpoint, s.version),
    }));
  }

  /** Probes every member now (agentctl, tests); resolves when each answered or missed its deadline. */
  async refresh(): Promise<EtcdMemberHealth[]> {
    await Promise.all(this.members.map((s) => this.probe(s)));
    return this.health();
  }

  private moveOff(s: MemberState): void {
    const n = this.members.length;
    for (let i = 1; i < n; i++) {
      const next = (this.members.indexOf(s) + i) % n;
      if (this.members[next]!.up) {
        this.current = next;
        this.log.info({ from: s.m.endpoint, to: this.members[next]!.m.endpoint }, 'etcd calls moved to another member');
        return;
      }
    }
  }

  private markUp(s: MemberState, why: string): void {
    s.up = true;
    this.log.info({ endpoint: s.m.endpoint, why }, 'etcd member back');
  }

  private stateOf(m: MemberClient): MemberState {
    const s = this.members.find((x) => x.m === m);
    if (s === undefined) throw new TypeError(`unknown etcd member ${m.endpoint}`);
    return s;
  }

  private async probeDue(): Promise<void> {
    const now = this.now();
    await Promise.all(this.members.map((s) => {
      const due = s.version === null || !s.up ? PROBE_DOWN_MS : PROBE_UP_MS;
      return now - s.lastProbeMs >= due ? this.probe(s) : undefined;
    }));
  }

  /** One Status RPC (attempt deadline): its version, whether it leads, whether it answers. */
  private probe(s: MemberState): Promise<void> {
    if (this.closed) return Promise.resolve();
    s.probing ??= this.probeOnce(s).finally(() => { s.probing = null; });
    return s.probing;
  }

  private async probeOnce(s: MemberState): Promise<void> {
    s.lastProbeMs = this.now();
    try {
      // No explicit deadline: the client's default (the attempt deadline) starts after a first
      // authentication, which has a deadline of its own; an explicit one would include it.
      const st = await s.m.client.maintenance.status();
      this.observeVersion(s, st.version);
      s.raftLeader = st.leader !== '0' && st.leader === st.header.member_id;
      // A member that knows no raft leader answers Status but cannot serve our calls.
      if (!s.up && st.leader !== '0') this.markUp(s, 'answered a status probe');
    } catch (err) {
      if (this.closed) return;
      // A member that misses the deadline on a probe would miss it on a call too. An answer
      // (a refused password) says nothing about the member's health: the calls report it.
      if (isMemberFailure(err)) this.failed(s.m, err);
      else s.lastError = errorMessage(err);
    }
  }

  private observeVersion(s: MemberState, version: string): void {
    const changed = s.version !== version;
    s.version = version;
    if (!changed) return;
    const warning = versionWarning(s.m.endpoint, version);
    if (warning !== null && s.warned !== version) {
      s.warned = version;
      this.log.warn({ endpoint: s.m.endpoint, etcdVersion: version, warning }, 'etcd member runs a version with known lease-safety bugs');
    } else {
      this.log.info({ endpoint: s.m.endpoint, etcdVersion: version }, 'etcd member version');
    }
  }
}
