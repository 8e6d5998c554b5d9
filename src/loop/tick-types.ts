// What one tick works with: its ports (everything it reads from or acts on, injected) and the
// state one tick hands to the next. src/loop/tick.ts is the tick; AgentLoop holds the state.
import type { Logger } from 'pino';
import type { Config } from '../config/types.js';
import type { Clock } from '../core/clock.js';
import { EMPTY_MEMORY, type Action, type DecideInput, type Decision, type Memory } from '../core/decide-types.js';
import type { Dcs } from '../dcs/port.js';
import type { WalMark } from '../core/seen-wal.js';
import { emptyCounters, type AgentCounters } from '../obs/metrics.js';
import type { StatusSnapshot } from '../obs/status.js';
import type { ExecutorPort } from './executor.js';
import type { JobRunner } from './jobs.js';
import type { PeerHttp } from './peer-http.js';
import type { PgPort } from './pg-port.js';
import type { RequestQueue } from './request-queue.js';
import type { ViewStore } from './view-store.js';

/** The fence timer and the guard process (S1), armed from the postmaster and the proven lease. */
export interface FencingPort {
  apply(): unknown;
  /** A resumed (SIGCONT) or starved process checks its deadline before anything else. */
  checkNow(): boolean;
  /** A retake of the leader key in flight has ended. */
  settled(): Promise<void>;
}

export interface TickPorts {
  readonly config: () => Config;
  readonly agentVersion: string;
  readonly dcs: Dcs;
  readonly pg: PgPort;
  readonly jobs: JobRunner;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly fencing: FencingPort;
  /** GETs to other members' REST APIs (the S2 probe). */
  readonly peerHttp: PeerHttp;
  /** Operator requests the API queued (restart, reinitialize): decide() answers them. */
  readonly requests?: Pick<RequestQueue, 'take' | 'settle'>;
  /** The status snapshot GET /patroni and the metrics serve. */
  readonly publish: (snap: StatusSnapshot) => void;
  readonly decide: (input: DecideInput) => Decision;
  /** Runs the decision's actions; it keeps its own state across ticks (the slots already created). */
  readonly executor: ExecutorPort;
  /** The last cluster view, shared with the dynamic config's readers. */
  readonly views: ViewStore;
  /** Fences counted by this process so far (the executor's and the fence timer's). */
  readonly fenceEvents: () => number;
}

export interface TickState {
  /** decide()'s memory, as the last decision left it (plus the job that finished since). */
  readonly memory: Memory;
  readonly counters: AgentCounters;
  /** A decision is logged at info when its reason changed (or it acts), at debug otherwise. */
  readonly lastReason: string;
  /** Kinds of the last tick's actions that failed or did not run. */
  readonly undone: readonly Action['kind'][];
  /** This run has published its member key: from then on it is a live member, never a newcomer. */
  readonly joined: boolean;
  /** Strangers and twins already reported (name@lease). */
  readonly reported: ReadonlySet<string>;
  /** Wall time of the last etcd snapshot that succeeded (GET /patroni's dcs_last_seen). */
  readonly dcsLastSeenWallMs: number | null;
  /** The furthest WAL seen while PostgreSQL ran (GET /patroni's stopped_wal once it stops). */
  readonly seenWal: WalMark | null;
}

export function initialTickState(): TickState {
  return { memory: EMPTY_MEMORY, counters: emptyCounters(), lastReason: '', undone: [], joined: false, reported: new Set(), dcsLastSeenWallMs: null, seenWal: null };
}
