// switchover (SPEC 5.6) and failover. The leader's agent does the switchover (CHECKPOINT, clean
// stop, wait for the candidate to receive the shutdown checkpoint, hand over the key); agentctl
// checks the candidate first, asks, sends POST /switchover (or /failover) and shows the phases.
import type { ClusterView, MemberView } from '../core/cluster.js';
import { callAnyMember, callMember, findMember, leaderMember, memberHealth, readCluster } from './cluster.js';
import type { CtlContext } from './context.js';
import { EXIT_OK, failed, refused } from './errors.js';
import { answerMessage } from './http.js';
import { confirm } from './prompt.js';
import { formatMb, renderData } from './render.js';
import { runTransition } from './run-transition.js';
import { parseSchedule } from './schedule.js';
import { bestOf, checkCandidates, describeProblems, leaderPosition, type CandidateCheck } from './switchover-plan.js';

export interface SwitchoverOptions {
  readonly leader?: string;
  readonly candidate?: string;
  readonly scheduled?: string;
  readonly force: boolean;
  /** With --scheduled: stay until it has happened and show it. */
  readonly wait: boolean;
  readonly cancel: boolean;
}

const CANCEL_HINT = 'cancel a scheduled switchover with agentctl switchover --cancel';

function describeCheck(c: CandidateCheck, cluster: ClusterView): string {
  const max = cluster.config?.value.maximum_lag_on_failover;
  const lag = c.lagBytes === null ? 'lag unknown' : `lag ${c.lagBytes} bytes (${formatMb(c.lagBytes)} MB)`;
  return `${c.name}: healthy, streaming, ${lag}${max === undefined ? '' : `, maximum_lag_on_failover ${max}`}`;
}

function currentLeader(ctx: CtlContext, cluster: ClusterView, named: string | undefined): MemberView {
  if (named !== undefined) findMember(ctx, cluster, named);
  const leader = leaderMember(cluster);
  if (!cluster.leader || !leader) {
    throw refused(`cluster ${ctx.config.scope} has no leader, so there is nothing to switch over from`,
      'agentctl failover --candidate <member> promotes a replica when there is no healthy leader');
  }
  if (named !== undefined && named !== leader.name) throw refused(`${named} is not the leader of cluster ${ctx.config.scope} (the leader is ${leader.name})`);
  return leader;
}

function preconditions(ctx: CtlContext, cluster: ClusterView, opts: SwitchoverOptions, scheduled: boolean): void {
  const fo = cluster.failover?.value;
  if (fo) {
    const what = fo.scheduledAt ? `a switchover is already scheduled at ${fo.scheduledAt}` : 'a switchover or failover is already in progress';
    throw refused(what, fo.scheduledAt ? CANCEL_HINT : 'wait for it to finish (agentctl list)');
  }
  const paused = cluster.config?.value.pause === true;
  if (paused && scheduled) throw refused("can't schedule a switchover in the paused state", 'agentctl resume first');
  if (paused && opts.candidate === undefined) {
    throw refused('in the paused state a switchover needs a named candidate', 'give --candidate <member>');
  }
}

async function chooseCandidate(ctx: CtlContext, cluster: ClusterView, leader: MemberView, opts: SwitchoverOptions, scheduled: boolean): Promise<string | null> {
  const pool = opts.candidate !== undefined
    ? [findMember(ctx, cluster, opts.candidate)]
    : cluster.members.filter((m) => m.name !== leader.name);
  if (opts.candidate === leader.name) throw refused(`${leader.name} is the leader already; name another member as --candidate`);
  if (pool.length === 0) throw refused(`cluster ${ctx.config.scope} has no member other than the leader ${leader.name}`);
  const checks = await checkCandidates(ctx, cluster, pool, { requireStreaming: true, leaderLsn: await leaderPosition(ctx, leader) });
  const chosen = opts.candidate !== undefined ? checks[0]! : bestOf(checks);
  if (chosen === null || chosen.problem !== null) {
    const detail = chosen ? `candidate ${chosen.name} is not eligible: ${chosen.problem}` : `no member can take over: ${describeProblems(checks)}`;
    // A scheduled switchover is judged at its time (the leader checks again then).
    if (scheduled) {
      ctx.io.err(`Warning: ${detail} (now; the leader checks again at the scheduled time)\n`);
      return opts.candidate ?? null;
    }
    throw refused(detail, opts.candidate !== undefined
      ? 'choose another candidate (agentctl list), or leave out --candidate to let the leader pick the best one'
      : 'agentctl list shows the members; a replica must be running, streaming and within maximum_lag_on_failover');
  }
  ctx.io.err(`Candidate check: ${describeCheck(chosen, cluster)}\n`);
  return opts.candidate ?? null;
}

export async function runSwitchover(ctx: CtlContext, opts: SwitchoverOptions): Promise<number> {
  if (opts.cancel) return cancelSwitchover(ctx);
  const scheduledAt = opts.scheduled === undefined ? null : parseSchedule(opts.scheduled, ctx.clock.wallNowMs());
  const cluster = await readCluster(ctx);
  const leader = currentLeader(ctx, cluster, opts.leader);
  preconditions(ctx, cluster, opts, scheduledAt !== null);
  const candidate = await chooseCandidate(ctx, cluster, leader, opts, scheduledAt !== null);
  const to = candidate ?? 'the best candidate (chosen by the leader)';
  const iso = scheduledAt === null ? null : new Date(scheduledAt).toISOString();
  ctx.io.err(`Switchover of cluster ${ctx.config.scope}: from ${leader.name} to ${to}${iso ? ` at ${iso}` : ''}\n`);
  await confirm(ctx, iso
    ? `Are you sure you want to schedule the switchover of cluster ${ctx.config.scope} at ${iso}, demoting current leader ${leader.name}?`
    : `Are you sure you want to switchover cluster ${ctx.config.scope}, demoting current leader ${leader.name}?`, opts.force);
  const body = { leader: leader.name, ...(candidate ? { candidate } : {}), ...(iso ? { scheduled_at: iso } : {}) };
  const transition = { action: 'switchover' as const, cluster, target: leader, body, oldLeader: leader.name, waitOldFollows: true };
  if (scheduledAt === null) return runTransition(ctx, { ...transition, send: true }, ctx.clock.monoMs());
  const a = await callMember(ctx, leader, 'POST', '/switchover', { body });
  if (a.status !== 202) throw refused(`switchover not scheduled by ${leader.name}: ${answerMessage(a)} (HTTP ${a.status})`);
  const line = `Switchover scheduled at ${iso} from ${leader.name} to ${to}\n`;
  // With --wait the summary of the switchover is the output; this line is progress then.
  if (opts.wait) ctx.io.err(line);
  else if (ctx.format === 'table') ctx.io.out(line);
  else ctx.io.out(renderData(ctx.format, { scheduled_at: iso, from: leader.name, to: candidate }));
  ctx.io.err(`To cancel it: agentctl -c ${ctx.config.configFile} switchover --cancel\n`);
  if (!opts.wait) return EXIT_OK;
  // Phases are timed from the scheduled moment.
  const untilMs = scheduledAt - ctx.clock.wallNowMs();
  const t0 = ctx.clock.monoMs() + untilMs;
  ctx.io.err(`Waiting for the scheduled time (${Math.max(0, Math.round(untilMs / 1000))} s)...\n`);
  if (untilMs > 1000) await ctx.sleep(untilMs - 1000);
  return runTransition(ctx, { ...transition, send: false }, t0);
}

async function cancelSwitchover(ctx: CtlContext): Promise<number> {
  const cluster = await readCluster(ctx);
  const fo = cluster.failover?.value;
  if (!fo) throw refused(`no switchover is scheduled in cluster ${ctx.config.scope}`);
  if (!fo.scheduledAt) throw refused('the pending switchover or failover is not scheduled: it is under way and cannot be cancelled');
  const { member, answer } = await callAnyMember(ctx, cluster, 'DELETE', '/switchover');
  if (answer.status === 404) throw refused(`no switchover is scheduled (${member.name}: ${answerMessage(answer)})`);
  if (answer.status !== 200) throw failed(`cancel failed on ${member.name}: ${answerMessage(answer)} (HTTP ${answer.status})`);
  if (ctx.format === 'table') ctx.io.out(`Scheduled switchover at ${fo.scheduledAt} cancelled\n`);
  else ctx.io.out(renderData(ctx.format, { cancelled: { scheduled_at: fo.scheduledAt, from: fo.leader ?? null, to: fo.member ?? null } }));
  return EXIT_OK;
}

export interface FailoverOptions {
  readonly candidate: string;
  readonly force: boolean;
}

/** Manual failover to a named candidate when there is no healthy leader (or with --force). */
export async function runFailover(ctx: CtlContext, opts: FailoverOptions): Promise<number> {
  const cluster = await readCluster(ctx);
  const candidate = findMember(ctx, cluster, opts.candidate);
  const leader = leaderMember(cluster);
  if (cluster.leader?.name === candidate.name) throw refused(`${candidate.name} is the leader already`);
  const healthy = leader !== null && (await memberHealth(ctx, leader, '/primary')) === 200;
  if (healthy && !opts.force) {
    throw refused(`cluster ${ctx.config.scope} has a healthy leader (${leader.name})`,
      `use agentctl switchover --candidate ${candidate.name} for a planned switchover, or failover --force`);
  }
  if (cluster.failover) throw refused('a switchover or failover is already pending', CANCEL_HINT);
  const [check] = await checkCandidates(ctx, cluster, [candidate], { requireStreaming: false, leaderLsn: healthy ? await leaderPosition(ctx, leader) : null });
  if (check?.problem) {
    throw refused(`candidate ${candidate.name} is not eligible: ${check.problem}`, 'choose another candidate (agentctl list)');
  }
  const old = cluster.leader?.name ?? null;
  const state = old === null ? 'the cluster has no leader' : healthy ? `the leader ${old} is healthy (--force)` : `the leader ${old} does not answer as a primary`;
  ctx.io.err(`Failover of cluster ${ctx.config.scope} to ${candidate.name}: ${state}\n`);
  if (old !== null && !healthy) {
    const ttl = cluster.config?.value.ttl;
    ctx.io.err(`The leader key of ${old} is taken over once its lease expires (ttl ${ttl ?? '?'} s) or it is released.\n`);
  }
  await confirm(ctx, `Are you sure you want to failover cluster ${ctx.config.scope} to ${candidate.name}?`, opts.force);
  const body = { candidate: candidate.name, ...(healthy && old ? { leader: old } : {}) };
  return runTransition(ctx, {
    action: 'failover', cluster, target: healthy && leader ? leader : candidate, body, oldLeader: old, waitOldFollows: healthy, send: true,
  }, ctx.clock.monoMs());
}
