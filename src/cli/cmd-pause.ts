// pause / resume (SPEC 5.8): PATCH /config {"pause": true | null} on a member, leader first;
// --wait polls every member's GET /patroni until each reports the new state.
import { callAnyMember, memberStatus, readCluster, scaled } from './cluster.js';
import type { CtlContext } from './context.js';
import { EXIT_OK, failed, refused } from './errors.js';
import { answerMessage } from './http.js';
import { pollUntil } from './wait.js';

export async function runPause(ctx: CtlContext, paused: boolean, opts: { wait: boolean }): Promise<number> {
  const cluster = await readCluster(ctx);
  const now = cluster.config?.value.pause === true;
  if (now === paused) {
    throw refused(`cluster ${ctx.config.scope} is ${paused ? 'already paused' : 'not paused'}`,
      paused ? 'agentctl resume ends maintenance mode' : undefined);
  }
  const { member, answer } = await callAnyMember(ctx, cluster, 'PATCH', '/config', { body: { pause: paused ? true : null } });
  if (answer.status !== 200) {
    throw failed(`${paused ? 'pause' : 'resume'} failed on ${member.name}: ${answerMessage(answer)} (HTTP ${answer.status})`);
  }
  const word = paused ? 'paused' : 'resumed';
  if (!opts.wait) {
    ctx.io.out(`Success: cluster management is ${word}\n`);
    return EXIT_OK;
  }
  const names = cluster.members.map((m) => m.name);
  ctx.io.err(`Waiting for ${names.join(', ')} to report ${paused ? 'pause' : 'resume'}...\n`);
  let pending = names;
  const loopWait = cluster.config?.value.loop_wait ?? 10;
  const done = await pollUntil(ctx, async () => {
    const states = await Promise.all(cluster.members.map(async (m) => [m.name, await memberStatus(ctx, m)] as const));
    pending = states.filter(([, s]) => s === null || (s['pause'] === true) !== paused).map(([n]) => n);
    return pending.length === 0 ? true : null;
  }, scaled(ctx, Math.max(30_000, loopWait * 3000)), scaled(ctx, 200));
  if (!done) {
    throw failed(`cluster management is ${word} in etcd, but ${pending.join(', ')} did not report it in time`,
      'check those agents with agentctl list; an agent that is down applies it when it starts');
  }
  ctx.io.out(`Success: cluster management is ${word}\n`);
  return EXIT_OK;
}
