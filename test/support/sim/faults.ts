// Random faults and operator events, and their recovery. Every duration comes from the seeded PRNG.
import type { FailoverRequest } from '../../../src/core/cluster.js';
import { encodeConfig } from '../../../src/dcs/codec-config.js';
import { encodeFailover } from '../../../src/dcs/codec-keys.js';
import { crash } from './fake-pg.js';
import { closeGuard, guardArmed, killGuard } from './guard.js';
import { PREFIX, agentRuns, etcdView, paused, leaderKey, log, nowMs, type SimNode, type WorldState } from './model.js';
import { startAgent } from './node.js';

/** Chance per step that something happens while chaos is on. */
const EVENT_RATE = 0.03;

type Kind = 'crash' | 'agentKill' | 'agentStop' | 'agentRestart' | 'guardDeath' | 'pgHung' | 'freeze' | 'etcdCut' | 'isolate' | 'etcdDown' | 'etcdLossy' | 'pgCrash' | 'pgBroken' | 'slowPromote' | 'switchover' | 'pause' | 'keyLoss' | 'foreignMember' | 'twinMember' | 'leaseRevoke';
const KINDS: readonly [Kind, number][] = [
  ['crash', 5], ['agentKill', 3], ['guardDeath', 2], ['freeze', 4], ['etcdCut', 4], ['isolate', 4], ['etcdDown', 1], ['etcdLossy', 3], ['pgCrash', 4], ['pgBroken', 1],
  ['slowPromote', 3], ['switchover', 3], ['pause', 1], ['keyLoss', 2], ['pgHung', 2], ['agentStop', 3], ['agentRestart', 2],
  ['foreignMember', 1], ['twinMember', 1], ['leaseRevoke', 2],
];
/**
 * The fault sets, oldest first: 1 as of 2026-12-06, 2 adds the agent alone killed and guard
 * death, 3 a hung PostgreSQL, 4 the agent's way out (SIGTERM, restart in place), 5 strangers'
 * member keys (a Patroni member, a twin under an existing name), 6 a lease revoked early in etcd
 * (the run with the fence guard logic and the guard client of src/fence). A seed replays
 * exactly only on the set it ran with (and on the code it ran with).
 */
export type FaultSet = 1 | 2 | 3 | 4 | 5 | 6;
export const FAULT_SETS: readonly FaultSet[] = [1, 2, 3, 4, 5, 6];
export const LATEST_FAULT_SET: FaultSet = 6;
const ADDED: Readonly<Record<FaultSet, readonly Kind[]>> = { 1: [], 2: ['agentKill', 'guardDeath'], 3: ['pgHung'], 4: ['agentStop', 'agentRestart'], 5: ['foreignMember', 'twinMember'], 6: ['leaseRevoke'] };
function kindsOf(set: FaultSet): readonly [Kind, number][] {
  const later = FAULT_SETS.filter((s) => s > set).flatMap((s) => ADDED[s]);
  return KINDS.filter(([k]) => !later.includes(k));
}
const total = (kinds: readonly [Kind, number][]): number => kinds.reduce((s, [, weight]) => s + weight, 0);

function pickKind(w: WorldState): Kind {
  const kinds = kindsOf(w.faultSet);
  let r = w.rng.next() * total(kinds);
  for (const [kind, weight] of kinds) {
    r -= weight;
    if (r < 0) return kind;
  }
  return 'crash';
}

/** An operator's write to etcd (etcdctl / agentctl): straight into the store, no agent involved. */
function put(w: WorldState, key: string, value: string): void {
  w.store.txn([], [{ op: 'put', key: PREFIX + key, value }], []);
}

function del(w: WorldState, key: string): void {
  w.store.txn([], [{ op: 'delete', key: PREFIX + key }], []);
}

/**
 * The node's fence guard process runs. Freezes are injected only then, as guard deaths only while
 * the agent runs: a freeze inside the moment between a guard's death and its restart (seed 242 of
 * set 6: the freeze came 0.5 s after the death, as the agent saw the exit) leaves nothing to fence
 * but a watchdog (SPEC 5.9), which this model does not have.
 */
function guarded(n: SimNode): boolean {
  return n.guard !== null;
}

/** Keep the store's partitions in step with the node's faults (a healed node's watch re-reads). */
export function syncPartition(w: WorldState, n: SimNode): void {
  w.store.partition(n.name, n.faults.etcdCutUntilMs !== null || n.faults.isolatedUntilMs !== null);
}

export function injectEvent(w: WorldState): void {
  if (!w.rng.chance(EVENT_RATE)) return;
  const n = w.rng.pick(w.nodes);
  const kind = pickKind(w);
  const until = nowMs(w) + w.rng.int(2, 40) * 1_000;
  w.stats.faults++;
  switch (kind) {
    case 'crash':
      if (!n.agent && n.faults.agentDownUntilMs === null) return;
      n.agent?.stop();
      n.agent = null;
      n.faults.agentDownUntilMs = null;
      closeGuard(n);
      crash(n.pg);
      n.faults.crashedUntilMs = until;
      break;
    case 'agentKill':
      // kill -9 of the agent alone: PostgreSQL runs on, the guard holds the run's deadline. Not
      // while the guard is dead and not yet restarted (seed 817 of set 6): as for a freeze.
      if (!n.agent || !guarded(n)) return;
      n.prevLeases.push({ ...n.agent.lease() });
      n.killedInPause = paused(n);
      n.agent.stop();
      n.agent = null;
      n.faults.agentDownUntilMs = nowMs(w) + w.rng.int(1, 20) * 1_000;
      break;
    case 'agentStop':
      // systemctl stop: the real way out (stop or hand over, release the key), then the exit.
      if (!n.agent) return;
      n.agent.terminate('term');
      break;
    case 'agentRestart':
      // SIGUSR2 / POST /restart-agent: PostgreSQL and the key stay; the guard holds the deadline.
      if (!n.agent) return;
      n.agent.terminate('restart');
      break;
    case 'guardDeath':
      // Only while the agent runs: a guard dying while its agent is stopped (SIGSTOP) leaves
      // nothing to fence but a watchdog, which this machine does not have (docs/architecture.md).
      if (!n.guard || !agentRuns(w, n)) return;
      killGuard(n);
      break;
    case 'freeze':
      if (!n.agent || !guarded(n)) return;
      n.agent.owner.heldUntilMs = until;
      break;
    case 'etcdCut':
      n.faults.etcdCutUntilMs = until;
      syncPartition(w, n);
      break;
    case 'isolate':
      n.faults.isolatedUntilMs = until;
      syncPartition(w, n);
      break;
    case 'etcdLossy':
      n.faults.etcdLossyUntilMs = until;
      break;
    case 'etcdDown':
      w.etcdDownUntilMs = nowMs(w) + w.rng.int(2, 25) * 1_000;
      w.store.outage(true);
      break;
    case 'pgCrash':
      crash(n.pg);
      break;
    case 'pgHung':
      if (!n.pg.running) return;
      n.faults.pgHungUntilMs = until;
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
    case 'leaseRevoke':
      leaseRevoke(w, n, until);
      return;
    case 'pause':
      setPause(w, true, nowMs(w) + w.rng.int(5, 40) * 1_000);
      return;
    case 'foreignMember':
    case 'twinMember':
      addStranger(w, kind, n, until);
      return;
  }
  log(w, `fault: ${kind} ${kind === 'etcdDown' ? 'all' : n.name}`);
}

export function setPause(w: WorldState, on: boolean, until: number | null): void {
  const config = etcdView(w).config;
  if (!config || (on && w.pauseUntilMs !== null) || w.etcdDownUntilMs !== null) return;
  w.pauseUntilMs = until;
  put(w, 'config', encodeConfig({ ...config.value, pause: on }));
  log(w, on ? 'operator: pause' : 'operator: resume');
}

/**
 * `etcdctl del` of the leader key (its lease lives on), half the time while the leader's agent is
 * frozen: its PostgreSQL stays writable until the fence guard fires at the lease deadline.
 */
function keyLoss(w: WorldState, until: number): void {
  const key = leaderKey(w);
  const n = w.nodes.find((x) => x.name === key?.name);
  if (!n || w.etcdDownUntilMs !== null) return;
  del(w, 'leader');
  w.keyDeletedFrom = n.name;
  const freeze = n.agent !== null && guarded(n) && w.rng.chance(0.5);
  if (freeze && n.agent) n.agent.owner.heldUntilMs = until;
  log(w, `fault: leader key of ${n.name} deleted${freeze ? ', its agent frozen' : ''}`);
}

/**
 * A lease revoked early in etcd (`etcdctl lease revoke`, or a resumed stale etcd leader revoking
 * leases): its keys vanish at once while the agent still holds the deadline of its last keepalive.
 * Mostly the leader's (its key and member key go; half the time its agent freezes at once, and
 * only the guard's deadline binds it), else n's (a member key gone, a keepalive that fails).
 */
function leaseRevoke(w: WorldState, n: SimNode, until: number): void {
  if (w.etcdDownUntilMs !== null) return;
  const key = leaderKey(w);
  const holder = key !== null && w.rng.chance(0.7) ? w.nodes.find((x) => x.name === key.name) : n;
  const lease = holder && key?.name === holder.name ? key.lease : holder?.agent?.lease().leaseId;
  if (!holder || !lease) return;
  // The run's proven deadline still binds it (S1): its guard holds it until it fences or disarms.
  if (holder.agent?.lease().leaseId === lease) holder.prevLeases.push({ ...holder.agent.lease() });
  w.store.revoke(lease);
  const leader = key?.lease === lease;
  if (leader) w.keyDeletedFrom = holder.name;
  const freeze = leader && holder.agent !== null && guarded(holder) && w.rng.chance(0.5);
  if (freeze && holder.agent) holder.agent.owner.heldUntilMs = until;
  log(w, `fault: lease of ${holder.name} revoked${leader ? ' (the leader key with it)' : ''}${freeze ? ', its agent frozen' : ''}`);
}

/**
 * A stranger's member key, put straight into etcd. A Patroni member (no `agent` field), which may
 * claim to be primary; or a twin: another host's agent under n's name, which could only have
 * joined while n's own member key was absent (a newcomer refuses a live twin before it writes).
 */
function addStranger(w: WorldState, kind: 'foreignMember' | 'twinMember', n: SimNode, until: number): void {
  if (w.stranger !== null || w.etcdDownUntilMs !== null) return;
  const twin = kind === 'twinMember';
  if (twin && etcdView(w).members.some((m) => m.name === n.name)) return;
  const name = twin ? n.name : 'patroni1';
  const host = twin ? `twin-of-${n.name}` : name;
  const member = {
    conn_url: `postgres://${host}:5432/postgres`, api_url: `http://${host}:8008/patroni`, state: 'running',
    role: !twin && w.rng.chance(0.5) ? 'primary' : 'replica', version: '3.0.2', xlog_location: w.rng.int(0, 1_000_000), timeline: 1,
    ...(twin ? { agent: 'pg-ha-agent/twin' } : {}),
  };
  const key = `members/${name}`;
  put(w, key, JSON.stringify(member));
  w.stranger = { key, untilMs: until };
  log(w, `fault: ${twin ? `a twin of ${n.name} joined from ${host}` : `a Patroni member ${name} (${member.role}) appeared`}`);
}

function requestSwitchover(w: WorldState): void {
  const view = etcdView(w);
  const leader = view.leader?.name;
  if (!leader || view.failover || w.etcdDownUntilMs !== null) return;
  const others = w.nodes.filter((n) => n.name !== leader);
  const member = w.rng.chance(0.7) ? w.rng.pick(others).name : undefined;
  const scheduledAt = w.rng.chance(0.3) ? new Date(w.vt.clock.wallNowMs() + w.rng.int(1, 20) * 1_000).toISOString() : undefined;
  const req: FailoverRequest = { leader, ...(member ? { member } : {}), ...(scheduledAt ? { scheduledAt } : {}) };
  put(w, 'failover', encodeFailover(req));
  log(w, `operator: switchover from ${leader} to ${member ?? 'the best candidate'}${scheduledAt ? ` at ${scheduledAt}` : ''}`);
}

/** Ends every fault whose time is up (all of them when `all`). */
export function recover(w: WorldState, all = false): void {
  const now = nowMs(w);
  const due = (t: number | null): boolean => t !== null && (all || now >= t);
  for (const n of w.nodes) {
    const f = n.faults;
    if (due(f.crashedUntilMs)) {
      f.crashedUntilMs = null;
      n.agent = startAgent(w, n);
      log(w, `${n.name} restarted`);
    }
    if (due(f.agentDownUntilMs)) {
      f.agentDownUntilMs = null;
      n.agent = startAgent(w, n);
      log(w, `${n.name} agent restarted (postgresql ${n.pg.running ? 'running' : 'down'}, guard ${guardArmed(n) ? 'armed' : 'not armed'})`);
    }
    if (all && n.agent && n.agent.owner.heldUntilMs > now) n.agent.owner.heldUntilMs = now;
    if (due(f.etcdCutUntilMs)) f.etcdCutUntilMs = null;
    if (due(f.isolatedUntilMs)) f.isolatedUntilMs = null;
    if (due(f.etcdLossyUntilMs)) f.etcdLossyUntilMs = null;
    if (due(f.pgBrokenUntilMs)) f.pgBrokenUntilMs = null;
    if (due(f.pgHungUntilMs)) f.pgHungUntilMs = null;
    if (all) f.slowPromoteMs = 0;
    syncPartition(w, n);
  }
  if (due(w.etcdDownUntilMs)) {
    w.etcdDownUntilMs = null;
    // A new etcd leader re-arms every lease with its full TTL.
    w.store.outage(false);
    log(w, 'etcd is back');
  }
  if (due(w.pauseUntilMs)) setPause(w, false, null);
  if (w.stranger !== null && due(w.stranger.untilMs) && w.etcdDownUntilMs === null) {
    del(w, w.stranger.key);
    log(w, `operator: ${w.stranger.key} removed`);
    w.stranger = null;
  }
  if (all && w.etcdDownUntilMs === null && etcdView(w).failover) del(w, 'failover');
}
