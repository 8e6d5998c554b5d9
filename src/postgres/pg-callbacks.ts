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
import type { PgPort } from '../loop/pg-port.js';
import type { CallbackExecutor, CallbackRole } from './callbacks.js';

export interface CallbackPgPort extends PgPort {
  /** The next stop and start are one restart: on_restart once, no on_stop/on_start. */
  beginRestart(): void;
}

export function withCallbacks(pg: PgPort, cb: CallbackExecutor): CallbackPgPort {
  /** The role PostgreSQL last ran in, as far as this process knows (Patroni's state_handler.role). */
  let role: CallbackRole | null = null;
  /** A start/stop callback was called (Patroni's cb_called): until then, a running PostgreSQL gets on_start. */
  let called = false;
  let restarting = false;
  /** Operations in flight: a PostgreSQL seen running meanwhile is theirs to report. */
  let busy = 0;

  const fire = (action: Parameters<CallbackExecutor['call']>[0], r: CallbackRole): void => {
    if (action !== 'on_reload') called = true;
    cb.call(action, r);
  };
  const during = async <T>(op: () => Promise<T>): Promise<T> => {
    busy++;
    try {
      return await op();
    } finally {
      busy--;
    }
  };
  /** After a start as `now`: a restart, a role change (was primary, now replica), or a start. */
  const afterStart = (before: CallbackRole | null, now: CallbackRole): void => {
    role = now;
    if (restarting) {
      restarting = false;
      fire('on_restart', now);
    } else if (now === 'replica' && (before === 'primary' || before === 'demoted')) {
      fire('on_role_change', now);
    } else {
      fire('on_start', now);
    }
  };
  const startAs = async (now: CallbackRole, op: () => Promise<void>): Promise<void> => {
    const before = role;
    try {
      await during(op);
    } catch (err) {
      restarting = false;
      // Patroni's post_recover: the primary could not be started again; it stops being one.
      if (now === 'primary' && before === 'primary') {
        role = 'demoted';
        fire('on_role_change', 'demoted');
      }
      throw err;
    }
    afterStart(before, now);
  };

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
    observe: async (signal) => {
      const local = await pg.observe(signal);
      if (local.kind === 'running' && busy === 0) {
        const seen: CallbackRole = local.inRecovery ? 'replica' : 'primary';
        if (!called) fire('on_start', seen);
        role = seen;
      }
      return local;
    },
    beginRestart: () => { restarting = true; },
    promote: async (timeoutMs, signal) => {
      const timeline = await during(() => pg.promote(timeoutMs, signal));
      role = 'primary';
      fire('on_role_change', 'primary');
      return timeline;
    },
    follow: async (leader, signal) => {
      await pg.follow(leader, signal);
      fire('on_reload', role ?? 'replica');
    },
    stop: async (mode, timeoutMs) => {
      const outcome = await during(() => pg.stop(mode, timeoutMs));
      if (!restarting && outcome !== 'already-stopped' && role !== null) fire('on_stop', role);
      return outcome;
    },
    bootstrap: (dynamic, signal) => during(() => pg.bootstrap(dynamic, signal)),
    clone: (source, signal) => during(() => pg.clone(source, signal)),
    startPrimary: (signal) => startAs('primary', () => pg.startPrimary(signal)),
    startReplica: (leader, signal) => startAs('replica', () => pg.startReplica(leader, signal)),
    rejoin: async (leader, signal) => {
      let result: { rewound: boolean } = { rewound: false };
      await startAs('replica', async () => { result = await pg.rejoin(leader, signal); });
      return result;
    },
    applyDynamicConfig: async (dynamic, signal) => {
      await pg.applyDynamicConfig(dynamic, signal);
      if (role !== null) fire('on_reload', role);
    },
  };
}
