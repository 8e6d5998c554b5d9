// Reading the cluster for agentctl and talking to its members, with errors that say what to do.
import { closestKey } from '../config/suggest.js';
import type { ClusterView, MemberView } from '../core/cluster.js';
import { DcsError } from '../dcs/port.js';
import type { CtlContext } from './context.js';
import { CtlError, failed, refused } from './errors.js';
import { answerMessage, apiBase, RestError, type RestAnswer, type RestRequest } from './http.js';
import { errorMessage } from '../errors.js';

export function etcdHosts(ctx: CtlContext): string {
  return ctx.config.etcd3.hosts.map((h) => `${h.host}:${h.port}`).join(',');
}

export function dcsFailure(ctx: CtlContext, err: unknown, what: string): CtlError {
  if (err instanceof CtlError) return err;
  const file = ctx.config.configFile;
  if (err instanceof DcsError) {
    switch (err.code) {
      case 'auth':
        return failed(`etcd refused the credentials while ${what}`, `check etcd3.username and etcd3.password in ${file}`, err);
      case 'invalid':
        return new CtlError('config', `etcd settings are not usable: ${err.message}`, { hint: `check the etcd3 section of ${file}`, cause: err });
      case 'unavailable':
      case 'deadline':
      case 'closed':
        return failed(`cannot reach etcd at ${etcdHosts(ctx)} while ${what}`,
          `check that etcd is running and that etcd3.hosts in ${file} lists its client endpoints`, err);
      default: {
        const never: never = err.code;
        return never;
      }
    }
  }
  return failed(`etcd error while ${what}: ${errorMessage(err)}`, undefined, err);
}

/** One linearizable read of the cluster; a scope with no keys at all is an error naming the prefix. */
export async function readCluster(ctx: CtlContext, opts: { allowEmpty?: boolean } = {}): Promise<ClusterView> {
  let view: ClusterView;
  try {
    view = await ctx.dcs.snapshot({ signal: AbortSignal.timeout(scaled(ctx, 10_000)) });
  } catch (err) {
    throw dcsFailure(ctx, err, 'reading the cluster state');
  }
  const empty = view.initialize === null && view.members.length === 0 && view.leader === null && view.config === null;
  if (empty && opts.allowEmpty !== true) {
    throw refused(`no cluster "${ctx.config.scope}" in etcd (nothing under ${ctx.config.namespace}${ctx.config.scope}/)`,
      `check scope and namespace in ${ctx.config.configFile}, or wait for the agents to bootstrap the cluster`);
  }
  return view;
}

export function scaled(ctx: CtlContext, ms: number): number {
  return Math.max(1, Math.round(ms * (ctx.timeScale ?? 1)));
}

export function memberNames(cluster: ClusterView): string[] {
  return cluster.members.map((m) => m.name);
}

export function findMember(ctx: CtlContext, cluster: ClusterView, name: string): MemberView {
  const m = cluster.members.find((x) => x.name === name);
  if (m) return m;
  const names = memberNames(cluster);
  // One-letter names are all one edit apart: a guess would be noise.
  const guess = name.length > 1 ? closestKey(name, names) : undefined;
  throw refused(`unknown member "${name}" in cluster ${ctx.config.scope}${guess ? `; did you mean "${guess}"?` : ''}`,
    names.length > 0 ? `members are: ${names.join(', ')} (see agentctl list)` : 'the cluster has no members registered in etcd');
}

export function leaderMember(cluster: ClusterView): MemberView | null {
  const name = cluster.leader?.name;
  return name === undefined ? null : cluster.members.find((m) => m.name === name) ?? null;
}

function authHint(ctx: CtlContext): string {
  return ctx.config.rest.auth
    ? `the credentials in restapi.authentication (or ctl.authentication) of ${ctx.config.configFile} do not match the agent's`
    : `set restapi.authentication (username and password, as on the agents) in ${ctx.config.configFile}`;
}

/** A REST call to a member; transport failures and 401/403 become CtlErrors, other answers are returned. */
export async function callMember(
  ctx: CtlContext,
  member: Pick<MemberView, 'name' | 'apiUrl'>,
  method: RestRequest['method'],
  path: string,
  opts: { body?: unknown; timeoutMs?: number } = {},
): Promise<RestAnswer> {
  if (!member.apiUrl) throw failed(`member ${member.name} publishes no api_url in etcd`);
  const url = `${apiBase(member.apiUrl)}${path}`;
  let answer: RestAnswer;
  try {
    answer = await ctx.rest.call({ method, url, timeoutMs: opts.timeoutMs ?? scaled(ctx, 10_000), ...(opts.body === undefined ? {} : { body: opts.body }) });
  } catch (err) {
    if (err instanceof RestError) {
      throw failed(`member ${member.name}: ${err.message}`, `check that the agent on ${member.name} runs and that ${apiBase(member.apiUrl)} is reachable from here`, err);
    }
    throw err;
  }
  if (answer.status === 401) throw failed(`member ${member.name} refused the request: authentication failed (401)`, authHint(ctx));
  if (answer.status === 403) {
    const message = answerMessage(answer);
    // An agent without authentication admits only its own host and its allowlist (issue 13).
    const hint = message.includes('without restapi.authentication')
      ? `run agentctl on ${member.name}, or set restapi.authentication on the agents (and here), or add this host to their restapi.allowlist`
      : 'check restapi.allowlist on the agents, or the client certificate (ctl.certfile/keyfile) if they require one';
    throw failed(`member ${member.name} refused the request: ${message} (403)`, hint);
  }
  return answer;
}

/** GET /patroni of a member; null when it does not answer (never throws). */
export async function memberStatus(ctx: CtlContext, member: Pick<MemberView, 'name' | 'apiUrl'>, timeoutMs = 1500): Promise<Record<string, unknown> | null> {
  try {
    const a = await callMember(ctx, member, 'GET', '/patroni', { timeoutMs });
    return typeof a.json === 'object' && a.json !== null ? (a.json as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** GET <path> health check of a member: its status code, null when it does not answer. */
export async function memberHealth(ctx: CtlContext, member: Pick<MemberView, 'name' | 'apiUrl'>, path: string, timeoutMs = 1000): Promise<number | null> {
  try {
    return (await callMember(ctx, member, 'GET', path, { timeoutMs })).status;
  } catch {
    return null;
  }
}

/** The leader first, then the others: whom to ask for cluster-wide changes (config, pause). */
export function membersLeaderFirst(cluster: ClusterView): MemberView[] {
  const leader = cluster.leader?.name;
  return [...cluster.members].sort((a, b) => Number(b.name === leader) - Number(a.name === leader));
}

/**
 * Sends a cluster-wide request to the first member that answers (leader first). A member that
 * cannot be reached is skipped; any answer (also an error status) is returned.
 */
export async function callAnyMember(
  ctx: CtlContext,
  cluster: ClusterView,
  method: RestRequest['method'],
  path: string,
  opts: { body?: unknown; timeoutMs?: number } = {},
): Promise<{ member: MemberView; answer: RestAnswer }> {
  const tried: string[] = [];
  for (const m of membersLeaderFirst(cluster)) {
    try {
      return { member: m, answer: await callMember(ctx, m, method, path, opts) };
    } catch (err) {
      if (err instanceof CtlError && /refused the request/.test(err.message)) throw err;
      tried.push(`${m.name} (${errorMessage(err)})`);
    }
  }
  throw failed(`no member of cluster ${ctx.config.scope} answered ${method} ${path}: ${tried.join('; ') || 'no members in etcd'}`,
    'check that the agents run (agentctl list shows the members etcd knows)');
}
