// Small helpers shared by the decide() branches.
import type { Action, DecideInput, Decision, Memory } from './decide-types.js';

export function decision(input: DecideInput, actions: readonly Action[], reason: string, memory?: Partial<Memory>): Decision {
  return { actions, reason, memory: { ...input.memory, ...memory } };
}

export function isPaused(input: DecideInput): boolean {
  return input.config.pause === true;
}

export function isWritablePrimary(input: DecideInput): boolean {
  return input.local.kind === 'running' && !input.local.inRecovery;
}

export function leaseValid(input: DecideInput): boolean {
  return input.nowMs < input.lease.validUntilMs;
}

/** The former role written in pg_controldata: a cleanly or uncleanly stopped primary. */
export function stoppedAsPrimary(input: DecideInput): boolean {
  const state = input.local.control?.state;
  return state === 'in production' || state === 'shut down' || state === 'shutting down' || state === 'in crash recovery';
}

export function msLeft(input: DecideInput): number {
  return Math.max(0, Math.round(input.lease.validUntilMs - input.nowMs));
}

/** Every other member gets a physical slot on the leader (created at promotion, SPEC 10). */
export function slotMembers(input: DecideInput): string[] {
  // A nostream member never connects (Patroni keeps no slot for it either): a slot would only hold WAL.
  return (input.cluster?.members ?? []).filter((m) => m.name !== input.self.name && m.tags.nostream !== true).map((m) => m.name);
}
