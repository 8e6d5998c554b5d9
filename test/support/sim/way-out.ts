// The agent's way out in the simulator: what src/daemon.ts does after the loop ends, on this run's
// parts and on its virtual time: the loop is left (bounded as in the daemon), then the real
// src/loop/leave.ts decides and carries out the stop (src/core/shutdown.ts), and the process exits.
// - SIGTERM (fault `agentStop`): a stop; the operator starts the agent again later.
// - SIGUSR2 (fault `agentRestart`): a restart in place, exit 75; systemd starts it again at once.
// - A halt (a refusal, a fatal error): the way out as well; systemd restarts exit 1.
import type { Logger } from 'pino';
import type { Dcs } from '../../../src/dcs/port.js';
import type { Fencing } from '../../../src/fence/fencing.js';
import type { FenceGuard } from '../../../src/fence/fence-guard-client.js';
import type { AgentLoop } from '../../../src/loop/agent-loop.js';
import type { JobRunner } from '../../../src/loop/jobs.js';
import { leave, shutdownWhy, type LeavePorts } from '../../../src/loop/leave.js';
import type { Timers } from '../../../src/time/timers.js';
import { RESTART_IN_PLACE_EXIT_CODE, TICK_EXIT_BOUND_MS } from '../../../src/loop/way-out.js';
import { log, nowMs, paused, type AgentRuntime, type SimNode, type WorldState } from './model.js';
import type { SimPg } from './sim-pg.js';
import type { Owner } from './vtime.js';

export type Termination = 'term' | 'restart';

export interface RunParts {
  readonly owner: Owner;
  readonly timers: Timers;
  readonly logger: Logger;
  readonly loop: AgentLoop;
  readonly dcs: Dcs;
  readonly pg: SimPg;
  readonly jobs: JobRunner;
  readonly fencing: Fencing;
  readonly guard: FenceGuard;
  readonly signal: AbortSignal;
  readonly termination: () => Termination | null;
}

/** The run from its first tick to its exit (nothing, if the process is killed on the way). */
export async function runToExit(w: WorldState, n: SimNode, agent: AgentRuntime, parts: RunParts): Promise<void> {
  const code = await Promise.race([parts.loop.run(parts.signal), afterAbort(parts, TICK_EXIT_BOUND_MS)]);
  if (parts.owner.dead || n.agent !== agent) return;
  const why = shutdownWhy(parts.termination(), code);
  log(w, `${n.name} agent leaving (${why.kind}${'exitCode' in why ? ` ${why.exitCode}` : ''})`);
  const exitCode = await leave(leavePortsOf(w, n, parts), why, { stage: () => undefined });
  if (parts.owner.dead || n.agent !== agent) return;
  exited(w, n, agent, exitCode, parts.termination());
}

function afterAbort(parts: RunParts, ms: number): Promise<number> {
  return new Promise((resolve) => {
    const go = (): void => { parts.timers.setTimeout(() => resolve(0), ms); };
    if (parts.signal.aborted) go(); else parts.signal.addEventListener('abort', go, { once: true });
  });
}

function leavePortsOf(w: WorldState, n: SimNode, parts: RunParts): LeavePorts {
  const none = (): Promise<void> => Promise.resolve();
  return {
    logger: parts.logger, clock: w.vt.clock, timers: parts.timers, dynamic: () => parts.loop.dynamic(),
    requests: { closeAll: () => undefined }, jobs: parts.jobs, loop: parts.loop,
    postmaster: () => parts.pg.postmasterState(), dcs: parts.dcs, pg: parts.pg, fencing: parts.fencing,
    // The real guard client: told to exit, the guard stays while armed (it holds the deadline for the next run).
    guard: parts.guard,
    closeWalReader: none, closeApi: none,
  };
}

/** The process ends; systemd (or the operator, after a stop) starts the agent again. */
function exited(w: WorldState, n: SimNode, agent: AgentRuntime, code: number, termination: Termination | null): void {
  const refused = termination === null && code === 2 && refusedStranger(agent.haltReason ?? '');
  if (termination === null && code !== 1 && !refused) {
    w.violations.push(`step ${w.step}: ${n.name} halted with exit code ${code}: ${agent.haltReason ?? agent.lastReason}`);
  }
  log(w, `${n.name} exited with code ${code} (postgresql ${n.pg.running ? (n.pg.recovery ? 'running read-only' : 'running writable') : 'stopped'})`);
  // An armed guard holds this run's deadline and lease until the next run re-attaches the key.
  n.prevLeases.push({ ...agent.lease() });
  n.killedInPause = paused(n);
  agent.stop();
  n.agent = null;
  const restartMs = code === RESTART_IN_PLACE_EXIT_CODE ? 1_000 : termination === 'term' ? w.rng.int(2, 20) * 1_000 : 5_000;
  // systemd does not restart exit 2: the operator starts it again once the stranger's key is gone.
  const after = refused ? Math.max(nowMs(w), w.stranger?.untilMs ?? 0) + w.rng.int(1, 10) * 1_000 : nowMs(w) + restartMs;
  n.faults.agentDownUntilMs = after;
}

/** A newcomer's refusal to join beside a Patroni member or a twin (SPEC 5.12), which fault set 5 draws. */
function refusedStranger(reason: string): boolean {
  return reason.includes('is not a pg-ha-agent') || reason.includes('another live member already uses the name');
}
