// Stands in for systemd in tests and benchmarks: an agent that exits with 75 (restart in place,
// RestartForceExitStatus=75 in systemd/pg-ha-agent.service) is started again after restartDelayMs
// (RestartSec). Any other exit is left alone, as systemd's unit would (Restart=on-failure aside).
import type { AgentNode } from './agent-cluster.js';

export const RESTART_IN_PLACE_EXIT_CODE = 75;

export class RestartSupervisor {
  private stopped = false;
  private readonly held = new Set<string>();
  /** Per node, the restarts this supervisor made. */
  readonly restarts = new Map<string, number>();

  constructor(private readonly nodes: readonly AgentNode[], private readonly restartDelayMs = 0) {
    for (const n of nodes) this.watch(n);
  }

  /** Watch a node's current agent process (call after starting it yourself). */
  watch(node: AgentNode): void {
    const proc = node.agent;
    if (!proc || proc.exitInfo() !== null) return;
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
