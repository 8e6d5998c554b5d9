// Deliberately broken decide() variants: the simulator's checks must catch each of them
// (test/unit/core/sim-checks.test.ts; `npm run sim -- --broken <name>` searches seeds for one).
import { decide } from '../../../src/core/decide.js';
import type { DecideInput, Decision } from '../../../src/core/decide-types.js';

type DecideFn = (input: DecideInput) => Decision;

/**
 * ttl 0, and no lease TTL from the leader's member key, make "last seen alive + ttl" pass at once:
 * the S2 former-leader wait is off.
 */
const noWait: DecideFn = (i) => {
  const seen = i.memory.leaderSeen;
  const cluster = i.cluster ? { ...i.cluster, members: i.cluster.members.map(({ leaseTtl: _ttl, ...m }) => m) } : null;
  const memory = seen ? { ...i.memory, leaderSeen: { ...seen, leaseTtlSec: 0 } } : i.memory;
  return decide({ ...i, cluster, memory, config: { ...i.config, ttl: 0 } });
};

/** Promote whenever the key is free, ignoring peers and tags. */
const greedy: DecideFn = (i) => {
  if (i.cluster?.leader === null && i.local.kind === 'running' && i.local.inRecovery && !i.fenced && i.job === null) {
    return { actions: [{ kind: 'acquireLeader' }, { kind: 'promote', oldTimeline: i.local.timeline, switchLsn: i.local.receiveLsn ?? 0, reason: 'greedy' }], reason: 'greedy', memory: i.memory };
  }
  return decide(i);
};

/** Promote without taking the leader key. */
const noAcquire: DecideFn = (i) => {
  const d = decide(i);
  return { ...d, actions: d.actions.filter((a) => a.kind !== 'acquireLeader') };
};

/** Never demote a primary when another member holds the key. */
const noFence: DecideFn = (i) => {
  const d = decide(i);
  return { ...d, actions: d.actions.filter((a) => a.kind !== 'fence') };
};

/** Start a former primary as a plain replica (no fork check). */
const noRewind: DecideFn = (i) => {
  const d = decide(i);
  return {
    ...d,
    actions: d.actions.map((a) => (a.kind === 'startJob' && a.job.kind === 'rejoin' ? { kind: 'startJob', job: { kind: 'startReplica', leader: a.job.leader } } : a)),
  };
};

/** Ignore the history key (no timeline check): timelines collide. */
const noHistory: DecideFn = (i) => {
  const d = decide(i.cluster ? { ...i, cluster: { ...i.cluster, history: null } } : i);
  // The acquire's guard still compares the real history key: with the hidden one it would never
  // match, and the variant would stall (no leader) instead of letting timelines collide.
  const rev = i.cluster?.history?.modRevision ?? 0;
  return { ...d, actions: d.actions.map((a) => (a.kind === 'acquireLeader' && a.historyRev !== undefined ? { ...a, historyRev: rev } : a)) };
};

export const BROKEN: Readonly<Record<string, DecideFn>> = { noWait, greedy, noAcquire, noFence, noRewind, noHistory };
