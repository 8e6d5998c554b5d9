// One agent tick, as src/loop/agent-loop.ts does it: observe -> decide -> execute -> touch member.
// The executor applies each Action to the fakes; guards that lose stop the list.
import type { ClusterView, MemberStatus } from '../../../src/core/cluster.js';
import type { Action, DecideInput, PeerProbe } from '../../../src/core/decide-types.js';
import { walPosition, type LocalPg } from '../../../src/core/local-pg.js';
import { crash, finishPromote, isWritable, observe, requestPromote } from './fake-pg.js';
import { cleanStop, startJob } from './jobs.js';
import { checkPromotion } from './invariants.js';
import {
  AGENT, LEASE_MARGIN_MS, LOOP_WAIT_MS, STEP_MS, TTL_MS,
  byHost, byName, etcdReachable, linked, agentRuns, log, violation,
  type Published, type SimNode, type WorldState,
} from './model.js';
import { walEnd } from './wal.js';

export const connUrlOf = (n: SimNode): string => `postgres://${n.host}:5432/postgres`;
const hostOfName = (w: WorldState) => (name: string): string => byName(w, name)?.host ?? `${name}.unknown`;

/** Keep the lease alive (grant a new one if it is gone); moves validUntil only on success. */
export function ensureLease(w: WorldState, n: SimNode): boolean {
  if (!etcdReachable(w, n)) return false;
  const a = n.agent;
  if (a.leaseId === null || !w.etcd.keepalive(a.leaseId, w.nowMs)) a.leaseId = w.etcd.grant(w.nowMs);
  a.validUntilMs = w.nowMs + TTL_MS - LEASE_MARGIN_MS;
  return true;
}

/**
 * GET /patroni as src/api serves it: the last tick's snapshot, with role, WAL position and
 * timeline read from PostgreSQL at request time when it answers (a frozen agent answers nothing).
 */
export function probe(w: WorldState, from: SimNode, to: SimNode): PeerProbe {
  const cached = to.agent.published;
  if (!agentRuns(w, to) || !linked(from, to) || cached === null) return { name: to.name, reachable: false, error: 'connect timeout' };
  const p = to.pg.running ? published(observe(to.pg, hostOfName(w))) : cached;
  return { name: to.name, reachable: true, ...p, nofailover: to.tags.nofailover === true, failoverPriority: to.tags.failover_priority ?? 1 };
}

/** The status snapshot a tick publishes for the REST API: what it observed before acting. */
export function publish(n: SimNode, local: LocalPg): void {
  n.agent.published = published(local);
}

function published(local: LocalPg): Published {
  const running = local.kind === 'running';
  return {
    role: !running ? 'other' : local.inRecovery ? 'replica' : 'primary',
    running,
    walPosition: running ? walPosition(local) : null,
    timeline: running ? local.timeline : null,
    streaming: running && local.walReceiver?.status === 'streaming',
  };
}

function probePeers(w: WorldState, n: SimNode, cluster: ClusterView | null, local: LocalPg): Map<string, PeerProbe> {
  const out = new Map<string, PeerProbe>();
  if (!cluster || local.kind !== 'running') return out;
  const race = cluster.leader === null;
  const switchover = cluster.leader?.name === n.name && cluster.failover !== null;
  // Beyond src/loop/agent-loop.ts today: a key holder still in recovery re-checks S2 before promoting.
  const unpromoted = cluster.leader?.name === n.name && local.inRecovery;
  if (!race && !switchover && !unpromoted) return out;
  for (const m of cluster.members) {
    if (m.name === n.name) continue;
    const other = byName(w, m.name);
    out.set(m.name, other ? probe(w, n, other) : { name: m.name, reachable: false, error: 'unknown host' });
  }
  return out;
}

function memberStatus(w: WorldState, n: SimNode, reason: string): MemberStatus {
  const pg = n.pg;
  const state = pg.running ? 'running' : n.agent.job ? 'starting' : 'stopped';
  const apiUrl = `http://${n.host}:8008/patroni`;
  if (!pg.running) {
    return { name: n.name, connUrl: connUrlOf(n), apiUrl, tags: n.tags, agent: AGENT, reason, state, role: pg.dataDir === 'empty' ? 'uninitialized' : 'replica' };
  }
  return {
    name: n.name, connUrl: connUrlOf(n), apiUrl, tags: n.tags, agent: AGENT, reason, state,
    role: pg.recovery ? 'replica' : 'primary', timeline: pg.tl, xlogLocation: walEnd(pg.wal),
  };
}

/** Did anything the core reads change since the last put? (It reads no member's xlog_location.) */
function sameStatus(a: MemberStatus | undefined, b: MemberStatus): boolean {
  return a !== undefined && a.state === b.state && a.role === b.role && a.timeline === b.timeline && a.reason === b.reason;
}

export function tick(w: WorldState, n: SimNode): void {
  const a = n.agent;
  w.stats.ticks++;
  const cluster = etcdReachable(w, n) ? w.etcd.snapshot() : null;
  if (cluster) {
    a.view = cluster;
    a.config = cluster.config ? { ...w.bootstrapDcs, ...cluster.config.value } : w.bootstrapDcs;
  }
  const local = observe(n.pg, hostOfName(w));
  if (a.finished) {
    a.memory = { ...a.memory, lastJob: a.finished };
    a.finished = null;
  }
  const input: DecideInput = {
    self: { name: n.name, connUrl: connUrlOf(n), tags: n.tags, agent: AGENT },
    config: a.config, cluster, dcsError: cluster ? null : 'etcd unreachable',
    lease: { leaseId: a.leaseId, validUntilMs: a.validUntilMs },
    local, fenced: a.fenced, peers: probePeers(w, n, cluster, local),
    job: a.job ? { spec: a.job.spec, startedMs: a.job.startedMs } : null,
    memory: a.memory, nowMs: w.nowMs, wallNowMs: w.nowMs,
  };
  const d = w.decide(input);
  a.memory = d.memory;
  const kinds = d.actions.map((x) => x.kind).join(',');
  if (kinds !== a.lastActions || d.reason !== a.lastReason) log(w, `${n.name} [${kinds}] ${d.reason}`);
  a.lastReason = d.reason;
  a.lastActions = kinds;
  const retick = execute(w, n, d.actions);
  // As agent-loop.ts does: a role change is published from a fresh observation at once.
  const changedRole = d.actions.some((x) => x.kind === 'promote' || x.kind === 'fence' || x.kind === 'stop' || x.kind === 'follow');
  publish(n, changedRole ? observe(n.pg, hostOfName(w)) : local);
  a.nextTickMs = w.nowMs + (retick ? STEP_MS : LOOP_WAIT_MS);
  if (!a.blocked) afterActions(w, n, d.reason);
}

export function afterActions(w: WorldState, n: SimNode, reason: string): void {
  if (!ensureLease(w, n)) return;
  const status = memberStatus(w, n, reason);
  const current = w.etcd.members.get(n.name);
  if (!sameStatus(current, status) || current?.leaseId !== n.agent.leaseId) w.etcd.putMember(status, n.agent.leaseId as string);
  const s = w.etcd.snapshot();
  n.agent.wakeToken = wakeToken(s);
}

export function wakeToken(s: ClusterView): string {
  return `${s.leader?.modRevision ?? 0}/${s.failover?.modRevision ?? 0}/${s.config?.modRevision ?? 0}/${s.initialize ?? '-'}`;
}

/** Runs the actions in order; returns true when the loop should tick again at once. */
export function execute(w: WorldState, n: SimNode, actions: readonly Action[]): boolean {
  for (let i = 0; i < actions.length; i++) {
    const action = actions[i] as Action;
    const outcome = one(w, n, action);
    if (outcome === 'lost') return true;
    if (outcome === 'blocked') {
      n.agent.blocked = { rest: actions.slice(i + 1) };
      return false;
    }
  }
  return false;
}

type Outcome = 'ok' | 'lost' | 'blocked';

function one(w: WorldState, n: SimNode, action: Action): Outcome {
  const { etcd } = w;
  const a = n.agent;
  const reach = etcdReachable(w, n);
  switch (action.kind) {
    case 'acquireLeader':
      if (!ensureLease(w, n) || !etcd.acquire(n.name, a.leaseId as string, w.nowMs)) return 'lost';
      w.keyDeletedFrom = null;
      return 'ok';
    case 'renewLeader':
      return ensureLease(w, n) && etcd.renew(n.name, a.leaseId as string, w.nowMs) ? 'ok' : 'lost';
    case 'releaseLeader':
      if (reach) etcd.release(n.name);
      return 'ok';
    case 'claimInitialize':
      return reach && etcd.createInitialize(action.systemId) ? 'ok' : 'lost';
    case 'setInitialize':
      if (reach) {
        etcd.deleteInitialize();
        etcd.createInitialize(action.systemId);
      }
      return 'ok';
    case 'deleteInitialize':
      if (reach) etcd.deleteInitialize();
      return 'ok';
    case 'seedConfig':
      if (reach && etcd.config === null) etcd.setConfig(w.bootstrapDcs);
      return 'ok';
    case 'promote':
      return promote(w, n, action);
    case 'createSlots':
      return 'ok';
    case 'follow': {
      const leader = byHost(w, action.leader.host);
      n.pg.upstream = leader ? leader.name : null;
      n.pg.streaming = false;
      return 'ok';
    }
    case 'fence':
      if (n.pg.running) w.stats.fences++;
      crash(n.pg);
      a.fenced = true;
      return 'ok';
    case 'clearFence':
      a.fenced = false;
      return 'ok';
    case 'stop':
      if (action.mode === 'fast') cleanStop(w, n);
      else crash(n.pg);
      return 'ok';
    case 'startJob':
      startJob(w, n, action.job);
      return 'ok';
    case 'deleteFailover':
      if (reach) etcd.deleteFailover(action.modRevision);
      return 'ok';
    case 'publishLeaderStatus':
      if (reach && isWritable(n.pg)) etcd.setStatus({ optime: walEnd(n.pg.wal) });
      return 'ok';
    case 'halt':
      // Exit 1 (after a failed bootstrap) is expected: systemd restarts the agent. Exit 2 and 3
      // refuse to join a foreign cluster, which never happens here.
      if (action.exitCode !== 1) violation(w, `${n.name} halted with exit code ${action.exitCode}: ${a.lastReason}`);
      a.alive = false;
      crash(n.pg);
      n.faults.crashedUntilMs = w.nowMs + 5_000;
      log(w, `${n.name} exited with code ${action.exitCode}`);
      return 'lost';
    default: {
      const never: never = action;
      throw new Error(`unknown action ${JSON.stringify(never)}`);
    }
  }
}

function promote(w: WorldState, n: SimNode, action: Extract<Action, { kind: 'promote' }>): Outcome {
  const pg = n.pg;
  if (!pg.running || !pg.recovery) return 'lost'; // pg.promote() throws: the executor re-ticks
  if (pg.promoteDoneAtMs !== null) return 'blocked';
  checkPromotion(w, n, action);
  if (w.historyFirst) {
    if (!etcdReachable(w, n)) return 'lost';
    const last = w.etcd.history?.value.at(-1);
    if (last?.timeline !== action.oldTimeline || last.newLeader !== n.name) {
      w.etcd.appendHistory({ timeline: action.oldTimeline, switchLsn: action.switchLsn, reason: action.reason, newLeader: n.name });
    }
  }
  const delay = n.faults.slowPromoteMs;
  n.faults.slowPromoteMs = 0;
  requestPromote(pg, w.nowMs + delay);
  if (delay > 0) return 'blocked';
  completePromotion(w, n);
  return 'ok';
}

/** pg_promote() returned: new timeline, history appended by the executor (S6). */
export function completePromotion(w: WorldState, n: SimNode): void {
  const oldTimeline = n.pg.tl;
  const switchLsn = walEnd(n.pg.wal);
  finishPromote(n.pg, w.nextUid++);
  w.stats.promotions++;
  log(w, `${n.name} promoted: timeline ${oldTimeline} -> ${n.pg.tl} at ${switchLsn}`);
  if (!w.historyFirst && etcdReachable(w, n)) w.etcd.appendHistory({ timeline: oldTimeline, switchLsn, reason: 'promote', newLeader: n.name });
}

/** A blocked executor resumes once the promotion ends (or PostgreSQL died under it). */
export function resumeBlocked(w: WorldState, n: SimNode): void {
  const a = n.agent;
  if (!a.blocked || n.pg.promoteDoneAtMs !== null) return;
  const rest = a.blocked.rest;
  a.blocked = null;
  if (isWritable(n.pg)) execute(w, n, rest);
  a.nextTickMs = w.nowMs;
  afterActions(w, n, a.lastReason);
}
