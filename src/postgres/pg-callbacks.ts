// Which callback a PostgreSQL operation calls for, as Patroni decides it (postgresql/__init__.py
// start/stop/restart/follow/promote, ha.py post_recover): a PgPort wrapped so that every caller
// (the loop, the jobs, POST /restart) reports through one place and decide() stays pure.
//   on_start       a start in the role PostgreSQL had (and once for a PostgreSQL found running)
//   on_stop        a stop that stopped something
//   on_restart     a restart (its stop and start report nothing else)
//   on_reload      a reload (a new upstream, a changed dynamic config)
//   on_role_change a promotion (primary), a former primary started as a replica (replica), a
//                  primary that failed to start again (demoted: the key goes to someone else)
// fence() passes through untouched: fencing never waits for, or depends on, a user command.
import type { DynamicConfig } from '../config/types.js';
import type { MemberRef } from '../core/decide-types.js';
import type { LocalPg } from '../core/local-pg.js';
import type { PgPort } from '../loop/pg-port.js';
import type { CallbackExecutor, CallbackRole } from './callbacks.js';

export interface CallbackPgPort extends PgPort {
  /** The next stop and start are one restart: on_restart once, no on_stop/on_start. */
  beginRestart(): void;
}

export function withCallbacks(pg: PgPort, cb: CallbackExecutor): CallbackPgPort {
  const st: CallbackState = { pg, cb, role: null, called: false, restarting: false, busy: 0 };
  return {
    isFenced: () => pg.isFenced(),
    fence: (reason) => pg.fence(reason),
    clearFence: () => pg.clearFence(),
    checkpoint: (signal) => pg.checkpoint(signal),
    writeTimelineFiles: (files, signal) => pg.writeTimelineFiles(files, signal),
    setSyncStandbyNames: (value, signal) => pg.setSyncStandbyNames(value, signal),
    controlData: () => pg.controlData(),
    syncSlots: (members, signal) => pg.syncSlots(members, signal),
    peerReceiveLsn: (peer, signal) => pg.peerReceiveLsn(peer, signal),
    peerInRecovery: (peer, signal) => pg.peerInRecovery(peer, signal),
    currentLsn: (signal) => pg.currentLsn(signal),
    moveDataAside: (reason) => pg.moveDataAside(reason),
    close: () => pg.close(),
    observe: (signal) => observe(st, signal),
    beginRestart: () => { st.restarting = true; },
    promote: (timeoutMs, signal) => promote(st, timeoutMs, signal),
    follow: (leader, signal) => follow(st, leader, signal),
    stop: (mode, timeoutMs) => stop(st, mode, timeoutMs),
    bootstrap: (dynamic, signal) => during(st, () => pg.bootstrap(dynamic, signal)),
    clone: (source, signal) => during(st, () => pg.clone(source, signal)),
    startPrimary: (signal) => startAs(st, 'primary', () => pg.startPrimary(signal)),
    startReplica: (leader, signal) => startAs(st, 'replica', () => pg.startReplica(leader, signal)),
    rejoin: (leader, signal) => rejoin(st, leader, signal),
    applyDynamicConfig: (dynamic, signal) => applyDynamicConfig(st, dynamic, signal),
  };
}

interface CallbackState {
  readonly pg: PgPort;
  readonly cb: CallbackExecutor;
  /** The role PostgreSQL last ran in, as far as this process knows (Patroni's state_handler.role). */
  role: CallbackRole | null;
  /** A start/stop callback was called (Patroni's cb_called): until then, a running PostgreSQL gets on_start. */
  called: boolean;
  restarting: boolean;
  /** Operations in flight: a PostgreSQL seen running meanwhile is theirs to report. */
  busy: number;
}

function fire(st: CallbackState, action: Parameters<CallbackExecutor['call']>[0], r: CallbackRole): void {
  if (action !== 'on_reload') st.called = true;
  st.cb.call(action, r);
}

async function during<T>(st: CallbackState, op: () => Promise<T>): Promise<T> {
  st.busy++;
  try {
    return await op();
  } finally {
    st.busy--;
  }
}

/** After a start as `now`: a restart, a role change (was primary, now replica), or a start. */
function afterStart(st: CallbackState, before: CallbackRole | null, now: CallbackRole): void {
  st.role = now;
  if (st.restarting) {
    st.restarting = false;
    fire(st, 'on_restart', now);
  } else if (now === 'replica' && (before === 'primary' || before === 'demoted')) {
    fire(st, 'on_role_change', now);
  } else {
    fire(st, 'on_start', now);
  }
}

async function startAs(st: CallbackState, now: CallbackRole, op: () => Promise<void>): Promise<void> {
  const before = st.role;
  try {
    await during(st, op);
  } catch (err) {
    st.restarting = false;
    // Patroni's post_recover: the primary could not be started again; it stops being one.
    if (now === 'primary' && before === 'primary') {
      st.role = 'demoted';
      fire(st, 'on_role_change', 'demoted');
    }
    throw err;
  }
  afterStart(st, before, now);
}

async function observe(st: CallbackState, signal?: AbortSignal): Promise<LocalPg> {
  const local = await st.pg.observe(signal);
  if (local.kind === 'running' && st.busy === 0) {
    const seen: CallbackRole = local.inRecovery ? 'replica' : 'primary';
    if (!st.called) fire(st, 'on_start', seen);
    st.role = seen;
  }
  return local;
}

async function promote(st: CallbackState, timeoutMs: number, signal?: AbortSignal): Promise<number> {
  const timeline = await during(st, () => st.pg.promote(timeoutMs, signal));
  st.role = 'primary';
  fire(st, 'on_role_change', 'primary');
  return timeline;
}

async function follow(st: CallbackState, leader: MemberRef, signal?: AbortSignal): Promise<void> {
  await st.pg.follow(leader, signal);
  fire(st, 'on_reload', st.role ?? 'replica');
}

async function stop(st: CallbackState, mode: 'fast' | 'immediate', timeoutMs: number): Promise<Awaited<ReturnType<PgPort['stop']>>> {
  const outcome = await during(st, () => st.pg.stop(mode, timeoutMs));
  if (!st.restarting && outcome !== 'already-stopped' && st.role !== null) fire(st, 'on_stop', st.role);
  return outcome;
}

async function rejoin(st: CallbackState, leader: MemberRef, signal?: AbortSignal): Promise<{ rewound: boolean }> {
  let result: { rewound: boolean } = { rewound: false };
  await startAs(st, 'replica', async () => { result = await st.pg.rejoin(leader, signal); });
  return result;
}

async function applyDynamicConfig(st: CallbackState, dynamic: DynamicConfig, signal?: AbortSignal): Promise<void> {
  await st.pg.applyDynamicConfig(dynamic, signal);
  if (st.role !== null) fire(st, 'on_reload', st.role);
}
