// restart, reinit and reload: POST /restart, /reinitialize, /reload on members, as patronictl
// does. Each member's answer is printed; any failure makes the exit code 1.
import type { ClusterView, MemberView } from '../core/cluster.js';
import { callMember, findMember, memberStatus, readCluster, scaled } from './cluster.js';
import type { CtlContext } from './context.js';
import { CtlError, EXIT_FAILED, EXIT_OK, failed, refused } from './errors.js';
import { answerMessage } from './http.js';
import { confirm } from './prompt.js';
import { pollUntil } from './wait.js';

function pickMembers(ctx: CtlContext, cluster: ClusterView, names: readonly string[]): MemberView[] {
  if (names.length === 0) {
    if (cluster.members.length === 0) throw refused(`cluster ${ctx.config.scope} has no members in etcd`);
    return [...cluster.members];
  }
  return [...new Set(names)].map((n) => findMember(ctx, cluster, n));
}

/** Runs `act` on each member; a member that fails is reported and the others still run. */
async function eachMember(ctx: CtlContext, members: readonly MemberView[], act: (m: MemberView) => Promise<boolean>): Promise<number> {
  let ok = true;
  for (const m of members) {
    try {
      ok = (await act(m)) && ok;
    } catch (err) {
      if (!(err instanceof CtlError)) throw err;
      ctx.io.err(`${m.name}: ${err.message}\n${err.hint ? `  ${err.hint}\n` : ''}`);
      ok = false;
    }
  }
  return ok ? EXIT_OK : EXIT_FAILED;
}

export interface RestartOptions {
  readonly members: readonly string[];
  readonly pending: boolean;
  readonly role?: string;
  readonly scheduled?: string;
  readonly pgVersion?: string;
  readonly timeout?: string;
  readonly force: boolean;
}

export async function runRestart(ctx: CtlContext, opts: RestartOptions): Promise<number> {
  const cluster = await readCluster(ctx);
  const members = pickMembers(ctx, cluster, opts.members);
  const body = {
    ...(opts.pending ? { restart_pending: true } : {}),
    ...(opts.role !== undefined ? { role: opts.role } : {}),
    ...(opts.scheduled !== undefined ? { schedule: opts.scheduled } : {}),
    ...(opts.pgVersion !== undefined ? { postgres_version: opts.pgVersion } : {}),
    ...(opts.timeout !== undefined ? { timeout: opts.timeout } : {}),
  };
  const when = opts.scheduled !== undefined ? ` at ${opts.scheduled}` : '';
  await confirm(ctx, `Restart PostgreSQL on ${members.map((m) => m.name).join(', ')}${when}?`, opts.force);
  return eachMember(ctx, members, async (m) => {
    const a = await callMember(ctx, m, 'POST', '/restart', { body, timeoutMs: scaled(ctx, 10 * 60_000) });
    const msg = answerMessage(a);
    if (a.status === 200 || a.status === 202) {
      ctx.io.out(`${m.name}: ${msg}\n`);
      return true;
    }
    // With conditions (--pending, --role, --pg-version) "not needed" is an answer, not a failure.
    if (a.status === 503 && /conditions are not satisfied/.test(msg)) {
      ctx.io.out(`${m.name}: not restarted: ${msg}\n`);
      return true;
    }
    ctx.io.err(`${m.name}: restart failed: ${msg} (HTTP ${a.status})\n`);
    return false;
  });
}

export interface ReinitOptions {
  readonly member: string;
  readonly force: boolean;
  readonly fromLeader: boolean;
  readonly wait: boolean;
}

export async function runReinit(ctx: CtlContext, opts: ReinitOptions): Promise<number> {
  const cluster = await readCluster(ctx);
  const member = findMember(ctx, cluster, opts.member);
  if (cluster.leader?.name === member.name) {
    throw refused(`${member.name} is the leader; a leader cannot be reinitialized`, 'switch over to another member first (agentctl switchover)');
  }
  await confirm(ctx, `Reinitialize ${member.name}? Its data directory is set aside and cloned again`, opts.force);
  const body = { ...(opts.force ? { force: true } : {}), ...(opts.fromLeader ? { from_leader: true } : {}) };
  const startedBefore = (await memberStatus(ctx, member))?.['postmaster_start_time'];
  const a = await callMember(ctx, member, 'POST', '/reinitialize', { body, timeoutMs: scaled(ctx, 60_000) });
  if (a.status !== 200) throw failed(`${member.name}: reinitialize refused: ${answerMessage(a)} (HTTP ${a.status})`);
  ctx.io.out(`${member.name}: ${answerMessage(a)}\n`);
  if (!opts.wait) return EXIT_OK;
  ctx.io.err(`Waiting for ${member.name} to run as a replica again...\n`);
  const t0 = ctx.clock.monoMs();
  const done = await pollUntil(ctx, async () => {
    const s = await memberStatus(ctx, member);
    // A new postmaster: the clone has run (the old one's "running" must not count).
    const restarted = s?.['postmaster_start_time'] !== undefined && s['postmaster_start_time'] !== startedBefore;
    return restarted && s?.['state'] === 'running' && s['role'] === 'replica' ? true : null;
  }, scaled(ctx, 30 * 60_000), scaled(ctx, 500));
  if (!done) throw failed(`${member.name} is not running as a replica after the reinitialize`, 'see the agent log on that node');
  ctx.io.out(`${member.name}: reinitialized in ${Math.round((ctx.clock.monoMs() - t0) / 1000)} s\n`);
  return EXIT_OK;
}

export async function runReload(ctx: CtlContext, opts: { members: readonly string[]; force: boolean }): Promise<number> {
  const cluster = await readCluster(ctx);
  const members = pickMembers(ctx, cluster, opts.members);
  await confirm(ctx, `Reload the configuration of ${members.map((m) => m.name).join(', ')}?`, opts.force);
  return eachMember(ctx, members, async (m) => {
    const a = await callMember(ctx, m, 'POST', '/reload');
    if (a.status === 200 || a.status === 202) {
      ctx.io.out(`${m.name}: ${answerMessage(a)}\n`);
      return true;
    }
    ctx.io.err(`${m.name}: reload failed: ${answerMessage(a)} (HTTP ${a.status})\n`);
    return false;
  });
}
