// restart-agent: restart the agent process itself in place on members (POST /restart-agent), one
// after the other, the leader last, each waited for until its new process answers healthy (the
// leader: /primary 200, which needs the leader key re-attached and proven). PostgreSQL keeps
// running throughout (docs/agent-restart.md).
import type { ClusterView, MemberView } from '../core/cluster.js';
import { callMember, findMember, memberHealth, readCluster, scaled } from './cluster.js';
import type { CtlContext } from './context.js';
import { EXIT_OK, failed, refused, usage } from './errors.js';
import { answerMessage } from './http.js';
import { confirm } from './prompt.js';
import { pollUntil } from './wait.js';

export interface RestartAgentOptions {
  readonly members: readonly string[];
  readonly all: boolean;
  readonly force: boolean;
  /** Seconds to wait for each member's new process to be healthy (default 60). */
  readonly timeout?: string;
}

interface AgentInfo { readonly pid: number; readonly version: string }

async function agentInfo(ctx: CtlContext, m: MemberView): Promise<AgentInfo | null> {
  try {
    const a = await callMember(ctx, m, 'GET', '/agent', { timeoutMs: scaled(ctx, 1500) });
    const j = a.json as { pid?: unknown; version?: unknown } | undefined;
    return a.status === 200 && typeof j?.pid === 'number' ? { pid: j.pid, version: String(j.version ?? '') } : null;
  } catch {
    return null;
  }
}

/** The members in rolling order: replicas by name, then the leader (its restart is the one that matters most). */
export function rollingOrder(cluster: ClusterView, names: readonly string[]): string[] {
  const leader = cluster.leader?.name ?? null;
  const picked = [...new Set(names)];
  return [...picked.filter((n) => n !== leader).sort(), ...picked.filter((n) => n === leader)];
}

function timeoutMs(opts: RestartAgentOptions): number {
  if (opts.timeout === undefined) return 60_000;
  const sec = Number(opts.timeout);
  if (!(sec > 0)) throw usage(`--timeout must be a number of seconds > 0, got "${opts.timeout}"`);
  return sec * 1000;
}

export async function runRestartAgent(ctx: CtlContext, opts: RestartAgentOptions): Promise<number> {
  if (opts.all === (opts.members.length > 0)) throw usage('restart-agent needs member names or --all (not both)');
  const waitMs = timeoutMs(opts);
  const first = await readCluster(ctx);
  const names = opts.all ? first.members.map((m) => m.name) : opts.members.map((n) => findMember(ctx, first, n).name);
  if (names.length === 0) throw refused(`cluster ${ctx.config.scope} has no members in etcd`);
  const order = rollingOrder(first, names);
  await confirm(ctx, `Restart the agent in place on ${order.join(', ')} (one after the other${first.leader ? ', the leader last' : ''}; PostgreSQL keeps running)?`, opts.force);
  for (const [i, name] of order.entries()) {
    // Read again before each step: the role decides what "back and healthy" means.
    const cluster = i === 0 ? first : await readCluster(ctx);
    const member = findMember(ctx, cluster, name);
    const isLeader = cluster.leader?.name === name;
    await restartOne(ctx, member, isLeader, `[${i + 1}/${order.length}]`, waitMs);
  }
  if (order.length > 1) ctx.io.out(`restarted the agent in place on ${order.length} members; no failover\n`);
  return EXIT_OK;
}

async function restartOne(ctx: CtlContext, m: MemberView, isLeader: boolean, step: string, waitMs: number): Promise<void> {
  const role = isLeader ? 'leader' : 'replica';
  const before = await agentInfo(ctx, m);
  if (!before) {
    throw failed(`${m.name}: GET /agent did not answer, so its restart could not be followed`,
      `check that the agent on ${m.name} runs a pg-ha-agent with restart in place (docs/agent-restart.md)`);
  }
  ctx.io.err(`${step} ${m.name} (${role}, pid ${before.pid}): restarting the agent in place\n`);
  const t0 = ctx.clock.monoMs();
  const a = await callMember(ctx, m, 'POST', '/restart-agent', { body: {}, timeoutMs: scaled(ctx, 10_000) });
  if (a.status !== 202) throw failed(`${m.name}: restart in place refused: ${answerMessage(a)} (HTTP ${a.status})`);
  // The leader is back once its new process proves the key (/primary 200 needs a proven lease);
  // a replica once its new process has observed PostgreSQL running.
  const path = isLeader ? '/primary' : '/health';
  let sawGone = false;
  const back = await pollUntil(ctx, async () => {
    // The new process may publish another api_url (restapi.connect_address changed with the restart).
    const now = (await readCluster(ctx).catch(() => null))?.members.find((x) => x.name === m.name) ?? m;
    const info = await agentInfo(ctx, now);
    if (!info) {
      if (!sawGone) ctx.io.err(`  +${secs(ctx, t0)} s  ${m.name}: old process gone; waiting for the new one\n`);
      sawGone = true;
      return null;
    }
    if (info.pid === before.pid) return null;
    return (await memberHealth(ctx, now, path)) === 200 ? info : null;
  }, scaled(ctx, waitMs), scaled(ctx, 100));
  if (!back) {
    throw failed(`${m.name}: the new agent process did not answer ${path} 200 within ${Math.round(waitMs / 1000)} s`,
      isLeader ? 'see its log (journalctl -u pg-ha-agent); its fence guard fences PostgreSQL at the lease deadline and a replica takes over'
        : 'see its log (journalctl -u pg-ha-agent)');
  }
  ctx.io.out(`${m.name}: agent restarted in place in ${secs(ctx, t0)} s (pid ${before.pid} -> ${back.pid}${back.version !== before.version ? `, ${before.version} -> ${back.version}` : ''})${isLeader ? '; leader key re-attached, no failover' : ''}\n`);
}

function secs(ctx: CtlContext, t0: number): string {
  return ((ctx.clock.monoMs() - t0) / 1000).toFixed(1);
}
