// The properties checked after every step (S1, S4), at every promotion (S2), and at the end of
// every quiet window (progress).
import type { Action } from '../../../src/core/decide-types.js';
import { isWritable } from './fake-pg.js';
import { agentRuns, linked, violation, type SimNode, type WorldState } from './model.js';
import { commonPrefix, isPrefix, walEnd } from './wal.js';

function holdsKey(w: WorldState, n: SimNode): boolean {
  const l = w.etcd.leader;
  return l !== null && l.name === n.name && l.leaseId === n.agent.leaseId && w.etcd.leaseAlive(l.leaseId, w.nowMs);
}

/**
 * S1: a writable primary runs only under its own proven lease and while it holds the leader key
 * (the bootstrapping node takes the key before initdb). Exempt: a node whose agent sees pause (5.8).
 */
export function checkS1(w: WorldState): void {
  for (const n of w.nodes) {
    if (!isWritable(n.pg) || n.agent.config.pause) continue;
    if (w.nowMs >= n.agent.validUntilMs) {
      violation(w, `S1: ${n.name} is a writable primary ${w.nowMs - n.agent.validUntilMs} ms past its lease deadline`);
    } else if (!holdsKey(w, n) && w.keyDeletedFrom !== n.name) {
      // An operator deleted the key: the leader retakes it or fences at once when it runs (SPEC
      // S1); a frozen one cannot, and is fenced by its guard at the deadline checked above.
      violation(w, `S1: ${n.name} is a writable primary without holding the leader key (key: ${w.etcd.leader?.name ?? 'none'})`);
    }
  }
}

/** How much of a node's WAL is on the line of history the last valid leader wrote. */
const legit = (w: WorldState, n: SimNode): number => commonPrefix(n.pg.wal, w.canonical);

/**
 * S2 at the moment of a promotion: eligible, within maximum_lag_on_failover of the last optime,
 * and no reachable eligible member (one etcd lists) holds more of the cluster's history. A requested (manual)
 * candidate may be behind; the operator chose it.
 */
export function checkPromotion(w: WorldState, n: SimNode, action: Extract<Action, { kind: 'promote' }>): void {
  const what = `S2: ${n.name} promoted (timeline ${action.oldTimeline} at ${action.switchLsn})`;
  if (n.tags.nofailover === true) violation(w, `${what} although tagged nofailover`);
  if (n.agent.fenced) violation(w, `${what} while fenced`);
  // The former primary must be gone first (S2's last clause); a paused one is exempt as in S1.
  for (const x of w.nodes) {
    if (x !== n && isWritable(x.pg) && !x.agent.config.pause) violation(w, `${what} while ${x.name} is still a writable primary (two primaries)`);
  }
  if (w.etcd.failover?.value.member === n.name) return;
  const optime = w.etcd.status?.optime ?? null;
  const end = walEnd(n.pg.wal);
  if (optime !== null && optime - end > n.agent.config.maximum_lag_on_failover) {
    violation(w, `${what} lagging ${optime - end} behind the last optime ${optime}`);
  }
  const mine = legit(w, n);
  // The members it can know of: those with a member key in etcd that answer its probes.
  for (const x of w.nodes) {
    if (x === n || !w.etcd.members.has(x.name) || !agentRuns(w, x) || !linked(n, x) || !x.pg.running || x.tags.nofailover === true) continue;
    const theirs = legit(w, x);
    if (theirs > mine) violation(w, `${what} with ${mine} bytes of the cluster history while reachable ${x.name} had ${theirs}`);
  }
}

/** S4: whatever a replica just received must continue its own WAL, never a diverged branch. */
export function checkStreamed(w: WorldState, r: SimNode, up: SimNode): void {
  if (isPrefix(r.pg.wal, up.pg.wal)) return;
  const at = commonPrefix(r.pg.wal, up.pg.wal);
  violation(w, `S4: ${r.name} streams from ${up.name} although its WAL diverged at ${at} (own end ${walEnd(r.pg.wal)}, timeline ${r.pg.tl})`);
}

/** null when the cluster has exactly one leader and every other node streams from it (maybe cascaded). */
export function convergence(w: WorldState): string | null {
  const writable = w.nodes.filter((n) => isWritable(n.pg));
  if (writable.length !== 1) return `${writable.length} writable primaries (${writable.map((n) => n.name).join(', ')})`;
  const leader = writable[0] as SimNode;
  if (!holdsKey(w, leader)) return `${leader.name} is primary but the leader key is ${w.etcd.leader?.name ?? 'absent'}`;
  for (const n of w.nodes) {
    if (n === leader) continue;
    if (!n.pg.running) return `${n.name}: postgresql is not running (${n.agent.lastReason})`;
    if (!n.pg.streaming) return `${n.name}: replica not streaming (${n.agent.lastReason})`;
    if (!isPrefix(n.pg.wal, leader.pg.wal)) return `${n.name}: WAL diverged from the leader at ${commonPrefix(n.pg.wal, leader.pg.wal)}`;
  }
  return null;
}
