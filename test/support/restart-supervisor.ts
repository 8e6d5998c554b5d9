// Stands in for systemd in tests and benchmarks: an agent that exits with 75 (restart in place,
// RestartForceExitStatus=75 in systemd/pg-ha-agent.service) is started again after restartDelayMs
// (RestartSec). Any other exit is left alone, as systemd's unit would (Restart=on-failure aside).
import type { TrackedProcess } from '../harness/index.js';
import type { AgentNode } from './agent-cluster.js';

export const RESTART_IN_PLACE_EXIT_CODE = 75;

export class RestartSupervisor {
  private stopped = false;
  private readonly held = new Set<string>();
  /** Per node, the restarts this supervisor made. */
  readonly restarts = new Map<string, number>();
  /** Every agent process seen per node, oldest first (their output explains a failure). */
  readonly processes = new Map<string, TrackedProcess[]>();

  constructor(private readonly nodes: readonly AgentNode[], private readonly restartDelayMs = 0) {
    for (const n of nodes) this.watch(n);
  }

  /** Watch a node's current agent process (call after starting it yourself). */
  watch(node: AgentNode): void {
    const proc = node.agent;
    if (!proc || proc.exitInfo() !== null) return;
    const seen = this.processes.get(node.name) ?? [];
    if (!seen.includes(proc)) this.processes.set(node.name, [...seen, proc]);
    proc.child.once('exit', (code) => {
      if (this.stopped || code !== RESTART_IN_PLACE_EXIT_CODE || node.agent !== proc || this.held.has(node.name)) return;
      setTimeout(() => {
        if (this.stopped || node.agent !== proc || this.held.has(node.name)) return;
        node.start();
        this.restarts.set(node.name, (this.restarts.get(node.name) ?? 0) + 1);
        this.watch(node);
      }, this.restartDelayMs);
    });
  }

  /** Do not restart this node's agent (the test restarts it itself). */
  hold(node: AgentNode): void {
    this.held.add(node.name);
  }

  release(node: AgentNode): void {
    this.held.delete(node.name);
  }

  stop(): void {
    this.stopped = true;
  }
}
