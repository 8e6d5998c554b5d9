// The common part of switchover and failover once the request is sent: watch the phases while
// the member handles POST /switchover or /failover (which answers when the leader key has moved),
// then keep watching until the new leader accepts writes (and, for a switchover, the old leader
// streams from it), and sum up: new leader, duration, how long writes were unavailable.
import type { ClusterView, MemberView } from '../core/cluster.js';
import { callMember, readCluster, scaled } from './cluster.js';
import type { CtlContext } from './context.js';
import type { CtlError } from './errors.js';
import { EXIT_OK, failed, refused } from './errors.js';
import { answerMessage, type RestAnswer } from './http.js';
import { PhaseWatch } from './progress.js';
import { formatDurationMs, renderData } from './render.js';
import { WriteWindowMonitor } from './write-probe.js';

export interface Transition {
  readonly action: 'switchover' | 'failover';
  readonly cluster: ClusterView;
  /** The member whose API gets the request. */
  readonly target: MemberView;
  readonly body: Record<string, unknown>;
  readonly oldLeader: string | null;
  /** Wait for the old leader to stream from the new one (it must be alive). */
  readonly waitOldFollows: boolean;
  /** false: the request was sent earlier (a scheduled switchover); only watch for it to happen. */
  readonly send: boolean;
}

const POLL_MS = 50;

function requestTimeoutMs(ctx: CtlContext, cluster: ClusterView): number {
  const dyn = cluster.config?.value;
  // The member answers after ttl + loop_wait at the latest (src/api/switchover.ts); leave margin.
  return scaled(ctx, (Math.max(10, (dyn?.ttl ?? 30) + (dyn?.loop_wait ?? 10)) + 20) * 1000);
}

/**
 * How long the leader may take to hand over or abort: its fast stop (primary_stop_timeout, 60 s
 * when unset) and the escalation after it, the candidate's catch-up, then as for the answer.
 */
function handoverTimeoutMs(ctx: CtlContext, cluster: ClusterView): number {
  const stop = cluster.config?.value.primary_stop_timeout;
  return requestTimeoutMs(ctx, cluster) + scaled(ctx, ((stop !== undefined && stop > 0 ? stop : 60) + 15) * 1000);
}

/** The abort the leader published in its member key since `sinceWallMs`, if any. */
function abortOf(cluster: ClusterView | null, leader: string | null, sinceWallMs: number): string | null {
  const aborted = cluster?.members.find((m) => m.name === leader)?.switchoverAborted;
  if (!aborted || Date.parse(aborted.at) < sinceWallMs - 1000) return null;
  return `${leader ?? '?'} aborted it and stays the leader: ${aborted.reason}`;
}

function refusal(action: string, member: string, a: RestAnswer): CtlError {
  const msg = answerMessage(a);
  if (a.status === 409) return refused(`${action} refused by ${member}: ${msg}`, 'cancel the pending request with agentctl switchover --cancel, or wait for it');
  if (a.status === 412) return refused(`${action} refused by ${member}: ${msg}`, 'agentctl list shows the members and their state');
  if (a.status === 400 || a.status === 422) return refused(`${action} refused by ${member}: ${msg}`);
  return failed(`${action} failed on ${member}: ${msg} (HTTP ${a.status})`, 'agentctl list shows where the cluster stands; the agents log each step');
}

async function watchUntil(ctx: CtlContext, watch: PhaseWatch, done: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = ctx.clock.monoMs() + timeoutMs;
  while (ctx.clock.monoMs() < deadline) {
    await watch.poll(() => readCluster(ctx));
    if (done()) return true;
    await ctx.sleep(scaled(ctx, POLL_MS));
  }
  return done();
}

/** POST the request and show the phases until the member answers; returns its sentence. */
async function sendAndWatch(ctx: CtlContext, t: Transition, watch: PhaseWatch, sinceWallMs: number): Promise<string> {
  let answer: RestAnswer | null = null;
  let error: unknown = null;
  let settled = false;
  const request = callMember(ctx, t.target, 'POST', `/${t.action}`, { body: t.body, timeoutMs: requestTimeoutMs(ctx, t.cluster) })
    .then((a) => { answer = a; }, (err: unknown) => { error = err; })
    .finally(() => { settled = true; });
  while (!settled) {
    await watch.poll(() => readCluster(ctx));
    if (!settled) await ctx.sleep(scaled(ctx, POLL_MS));
  }
  await request;
  if (error !== null) throw error;
  const a = answer as RestAnswer | null;
  // "status unknown": the member stopped waiting, the agents may still finish; keep watching.
  if (a?.status === 503 && /status unknown/i.test(answerMessage(a))) {
    ctx.io.err(`  ${t.target.name} answered "${answerMessage(a)}"; still watching\n`);
    return awaitHandover(ctx, t, watch, sinceWallMs);
  }
  if (a === null || a.status !== 200) throw refusal(t.action, t.target.name, a ?? { status: 0, text: '', json: undefined });
  return answerMessage(a);
}

/** Watch until the leader key moves, or the request disappears without it (scheduled, or status unknown). */
async function awaitHandover(ctx: CtlContext, t: Transition, watch: PhaseWatch, sinceWallMs: number): Promise<string> {
  const deadline = ctx.clock.monoMs() + handoverTimeoutMs(ctx, t.cluster);
  let goneLooks = 0;
  for (;;) {
    const st = await watch.poll(() => readCluster(ctx));
    if (watch.has('key-taken')) return `${t.action === 'switchover' ? 'Switched' : 'Failed'} over to "${watch.newLeader ?? '?'}"`;
    // The key can vanish a moment before the leader key moves: only a second look counts. The
    // leader's member key says why it aborted a moment after the request is dropped.
    goneLooks = !st.failoverPending && st.leader === t.oldLeader ? goneLooks + 1 : 0;
    const aborted = goneLooks > 0 ? abortOf(st.cluster, t.oldLeader, sinceWallMs) : null;
    if (goneLooks >= 2 && aborted) throw failed(`the ${t.action} did not happen: ${aborted}`, 'agentctl list shows the cluster; the leader logs each step');
    if (goneLooks >= 10) {
      throw failed(`the ${t.action} did not happen: the request was cancelled, or dropped by the leader`,
        'the leader logs why (its last decision is in agentctl list -e); agentctl list shows the cluster');
    }
    if (ctx.clock.monoMs() > deadline) throw failed(`the ${t.action} has not happened in time`, 'check agentctl list -e and the leader\'s log');
    await ctx.sleep(scaled(ctx, POLL_MS));
  }
}

/** Sends the request, shows the phases, prints the summary; returns the exit code. */
export async function runTransition(ctx: CtlContext, t: Transition, t0: number): Promise<number> {
  const watch = new PhaseWatch(ctx, t.oldLeader, t.cluster.members, t0, t.action);
  const writes = new WriteWindowMonitor(ctx, t.waitOldFollows ? t.oldLeader : null, t.cluster.members);
  writes.start();
  try {
    const sinceWallMs = ctx.clock.wallNowMs();
    const message = t.send ? await sendAndWatch(ctx, t, watch, sinceWallMs) : await awaitHandover(ctx, t, watch, sinceWallMs);
    const finished = await watchUntil(ctx, watch, () => watch.has('promoted') && writes.newWriter() !== null
      && (!t.waitOldFollows || watch.has('old-following')), scaled(ctx, 60_000));
    return summarize(ctx, t, watch, writes, message, finished, t0);
  } finally {
    await writes.stop();
  }
}

function summarize(ctx: CtlContext, t: Transition, watch: PhaseWatch, writes: WriteWindowMonitor, message: string, finished: boolean, t0: number): number {
  const newLeader = watch.newLeader ?? writes.newWriter();
  const gap = writes.result();
  const durationMs = (gap?.firstNewMs ?? ctx.clock.monoMs()) - t0;
  const rewound = [...watch.reasons].some((r) => /rewind/i.test(r));
  const summary = {
    action: t.action,
    result: message,
    from: t.oldLeader,
    to: newLeader,
    duration_ms: Math.round(durationMs),
    write_unavailable_ms: gap && Number.isFinite(gap.gapMs) ? Math.round(gap.gapMs) : null,
    measured_on: gap?.source ?? null,
    old_leader_following: watch.has('old-following'),
    rewind_seen: rewound,
    phases: watch.events.map((e) => ({ phase: e.phase, at_ms: Math.round(e.atMs), text: e.text })),
  };
  if (ctx.format !== 'table') {
    ctx.io.out(renderData(ctx.format, summary));
    return EXIT_OK;
  }
  const lines = [message];
  const verb = t.action === 'switchover' ? 'Switched over' : 'Failed over';
  lines.push(`${verb}${t.oldLeader ? ` from ${t.oldLeader}` : ''} to ${newLeader ?? '(unknown)'}: writes accepted again ${formatDurationMs(durationMs)} after the request.`);
  if (gap && Number.isFinite(gap.gapMs)) {
    const how = gap.source === 'postgresql' ? 'probed on PostgreSQL every 20 ms' : 'probed through the REST /primary checks every 20 ms';
    lines.push(`Writes were unavailable for ${formatDurationMs(gap.gapMs)} (${how}).`);
  }
  if (t.oldLeader && t.waitOldFollows) {
    lines.push(watch.has('old-following')
      ? `${t.oldLeader} streams from ${newLeader ?? 'the new leader'}${rewound ? ' (after pg_rewind)' : ''}.`
      : `${t.oldLeader} does not stream from ${newLeader ?? 'the new leader'} yet; check agentctl list.`);
  }
  if (!finished) lines.push('Not every phase was seen within 60 s; check agentctl list.');
  ctx.io.out(`${lines.join('\n')}\n`);
  return EXIT_OK;
}
