// Random faults and operator events, and their recovery. Every duration comes from the seeded PRNG.
import { EMPTY_MEMORY } from '../../../src/core/decide-types.js';
import { crash } from './fake-pg.js';
import { TTL_MS, log, type SimNode, type WorldState } from './model.js';

/** Chance per step that something happens while chaos is on. */
const EVENT_RATE = 0.03;

type Kind = 'crash' | 'freeze' | 'etcdCut' | 'isolate' | 'etcdDown' | 'pgCrash' | 'pgBroken' | 'slowPromote' | 'switchover' | 'pause' | 'keyLoss';
const KINDS: readonly [Kind, number][] = [
  ['crash', 5], ['freeze', 4], ['etcdCut', 4], ['isolate', 4], ['etcdDown', 1], ['pgCrash', 4], ['pgBroken', 1],
  ['slowPromote', 3], ['switchover', 3], ['pause', 1], ['keyLoss', 2],
];
const TOTAL = KINDS.reduce((s, [, weight]) => s + weight, 0);

function pickKind(w: WorldState): Kind {
  let r = w.rng.next() * TOTAL;
  for (const [kind, weight] of KINDS) {
    r -= weight;
    if (r < 0) return kind;
  }
  return 'crash';
}

export function injectEvent(w: WorldState): void {
  if (!w.rng.chance(EVENT_RATE)) return;
  const n = w.rng.pick(w.nodes);
  const kind = pickKind(w);
  const until = w.nowMs + w.rng.int(2, 40) * 1_000;
  w.stats.faults++;
  switch (kind) {
    case 'crash':
      if (!n.agent.alive) return;
      n.agent.alive = false;
      crash(n.pg);
      n.faults.crashedUntilMs = until;
      break;
    case 'freeze':
      if (!n.agent.alive) return;
      n.agent.frozenUntilMs = until;
      break;
    case 'etcdCut':
      n.faults.etcdCutUntilMs = until;
      break;
    case 'isolate':
      n.faults.isolatedUntilMs = until;
      break;
    case 'etcdDown':
      w.etcdDownUntilMs = w.nowMs + w.rng.int(2, 25) * 1_000;
      break;
    case 'pgCrash':
      crash(n.pg);
      break;
    case 'pgBroken':
      crash(n.pg);
      n.faults.pgBrokenUntilMs = until;
      break;
    case 'slowPromote':
      n.faults.slowPromoteMs = w.rng.int(1, 30) * 500;
      break;
    case 'switchover':
      requestSwitchover(w);
      return;
    case 'keyLoss':
      keyLoss(w, until);
      return;
    case 'pause':
      if (w.pauseUntilMs !== null || !w.etcd.config) return;
      w.pauseUntilMs = w.nowMs + w.rng.int(5, 40) * 1_000;
      w.etcd.setConfig({ ...w.etcd.config.value, pause: true });
      log(w, 'operator: pause');
      return;
  }
  log(w, `fault: ${kind} ${kind === 'etcdDown' ? 'all' : n.name}`);
}

/**
 * `etcdctl del` of the leader key (its lease lives on), half the time while the leader's agent is
 * frozen: its PostgreSQL stays writable until the fence guard fires at the lease deadline.
 */
function keyLoss(w: WorldState, until: number): void {
  const holder = w.etcd.leader?.name;
  const n = w.nodes.find((x) => x.name === holder);
  if (!n || !w.etcd.release(n.name)) return;
  w.keyDeletedFrom = n.name;
  const freeze = n.agent.alive && w.rng.chance(0.5);
  if (freeze) n.agent.frozenUntilMs = until;
  log(w, `fault: leader key of ${n.name} deleted${freeze ? ', its agent frozen' : ''}`);
}

function requestSwitchover(w: WorldState): void {
  const leader = w.etcd.leader?.name;
  if (!leader || w.etcd.failover) return;
  const others = w.nodes.filter((n) => n.name !== leader);
  const member = w.rng.chance(0.7) ? w.rng.pick(others).name : undefined;
  const scheduledAt = w.rng.chance(0.3) ? new Date(w.nowMs + w.rng.int(1, 20) * 1_000).toISOString() : undefined;
  w.etcd.setFailover({ leader, ...(member ? { member } : {}), ...(scheduledAt ? { scheduledAt } : {}) });
  log(w, `operator: switchover from ${leader} to ${member ?? 'the best candidate'}${scheduledAt ? ` at ${scheduledAt}` : ''}`);
}

function restartAgent(w: WorldState, n: SimNode): void {
  n.agent = {
    ...n.agent,
    alive: true, frozenUntilMs: 0, blocked: null, memory: EMPTY_MEMORY, job: null, finished: null,
    leaseId: null, validUntilMs: Number.NEGATIVE_INFINITY, fenced: false, view: null, config: w.bootstrapDcs,
    nextTickMs: w.nowMs, wakeToken: '', lastReason: '', lastActions: '', published: null,
  };
  log(w, `${n.name} restarted`);
}

/** Ends every fault whose time is up (all of them when `all`). */
export function recover(w: WorldState, all = false): void {
  const due = (t: number | null): boolean => t !== null && (all || w.nowMs >= t);
  for (const n of w.nodes) {
    const f = n.faults;
    if (due(f.crashedUntilMs) && f.crashedUntilMs !== Number.POSITIVE_INFINITY) {
      f.crashedUntilMs = null;
      restartAgent(w, n);
    }
    if (all && n.agent.frozenUntilMs > w.nowMs) n.agent.frozenUntilMs = w.nowMs;
    if (due(f.etcdCutUntilMs)) f.etcdCutUntilMs = null;
    if (due(f.isolatedUntilMs)) f.isolatedUntilMs = null;
    if (due(f.pgBrokenUntilMs)) f.pgBrokenUntilMs = null;
    if (all) f.slowPromoteMs = 0;
  }
  if (due(w.etcdDownUntilMs)) {
    w.etcdDownUntilMs = null;
    // A new etcd leader re-arms every lease with its full TTL.
    w.etcd.rearmLeases(w.nowMs + TTL_MS);
    log(w, 'etcd is back');
  }
  if (due(w.pauseUntilMs)) {
    w.pauseUntilMs = null;
    if (w.etcd.config) w.etcd.setConfig({ ...w.etcd.config.value, pause: false });
    log(w, 'operator: resume');
  }
  if (all && w.etcd.failover) {
    w.etcd.deleteFailover(w.etcd.failover.modRevision);
  }
}
