// POST /restart and POST /reinitialize, carried out by the agent as jobs (the API only asks).
import type { ReinitializeOutcome, ReinitializeRequest, RestartOutcome, RestartRequest } from '../api/local-actions.js';
import type { MemberRef } from '../core/decide-types.js';
import { memberRef } from '../core/member-ref.js';
import type { JobRunner } from '../loop/jobs.js';
import type { StatusSnapshot } from '../obs/status.js';

function leaderRef(status: StatusSnapshot): MemberRef | null {
  const cluster = status.cluster;
  const name = cluster?.leader?.name;
  const m = cluster?.members.find((x) => x.name === name);
  return m ? memberRef(m) : null;
}

function versionBelow(running: number | undefined, wanted: string): boolean {
  const [maj, min] = wanted.split('.').map(Number);
  if (running === undefined || maj === undefined || Number.isNaN(maj)) return true;
  return running < maj * 10000 + (min ?? 0);
}

export function createLocalActions(deps: { jobs: JobRunner; getStatus: () => StatusSnapshot }) {
  async function restart(req: RestartRequest): Promise<RestartOutcome> {
    const status = deps.getStatus();
    const node = status.node;
    if (req.scheduledAtMs !== undefined) return { kind: 'failed', reason: 'scheduled restarts are not supported by pg-ha-agent; restart at the time you need' };
    if (node.state !== 'running') return { kind: 'failed', reason: `postgresql is ${node.state}, not running` };
    if (req.role !== undefined && req.role !== node.role) return { kind: 'not_needed', reason: `role does not match (${node.role})` };
    if (req.postgresVersion !== undefined && !versionBelow(node.server_version, req.postgresVersion)) {
      return { kind: 'not_needed', reason: `server version ${node.server_version ?? 'unknown'} is not below ${req.postgresVersion}` };
    }
    if (req.restartPending === true && node.pending_restart !== true) return { kind: 'not_needed', reason: 'no restart pending' };
    if (deps.jobs.running()) return { kind: 'failed', reason: `busy with ${deps.jobs.running()?.spec.kind}` };
    const role = node.role === 'primary' ? 'primary' : 'replica';
    const leader = role === 'replica' ? leaderRef(status) : null;
    const done = deps.jobs.start({ kind: 'restart', role, leader });
    const bound = (req.timeoutSec ?? 300) * 1000;
    const result = await Promise.race([done, new Promise<null>((r) => setTimeout(() => r(null), bound).unref())]);
    if (result === null) return { kind: 'failed', reason: `restart did not finish within ${bound / 1000} s` };
    return result.ok ? { kind: 'restarted' } : { kind: 'failed', reason: result.error ?? 'unknown error' };
  }

  async function reinitialize(req: ReinitializeRequest): Promise<ReinitializeOutcome> {
    const status = deps.getStatus();
    if (status.holdsLeader) return { kind: 'refused', reason: 'I am the leader, can not reinitialize' };
    const running = deps.jobs.running();
    if (running && !req.force) return { kind: 'refused', reason: `${running.spec.kind} already in progress` };
    const leader = leaderRef(status);
    if (!leader) return { kind: 'refused', reason: 'Cluster has no leader, can not reinitialize' };
    if (running) await deps.jobs.abort();
    void deps.jobs.start({ kind: 'reinit', source: leader });
    return { kind: 'started' };
  }

  return { restart, reinitialize };
}
