// PATCH /config and edit-config reach PostgreSQL by a re-render and a reload: decided here, from
// the `config` key's revision against the one PostgreSQL's files were rendered from.
import type { DecideInput, Decision } from './decide-types.js';

/** A fence, a stop or a halt goes first and alone: the reload waits for the next tick. */
const URGENT = new Set(['fence', 'halt', 'stop']);

export function withConfigApply(input: DecideInput, d: Decision): Decision {
  const rev = input.cluster?.config?.modRevision ?? null;
  if (rev === null || input.local.kind !== 'running') return d;
  // A reload that failed (or never ran) last tick is owed again.
  const owed = input.undone?.includes('applyDynamicConfig') === true;
  const applied = owed ? -1 : d.memory.appliedConfigRevision;
  if (applied === rev) return d;
  // The first revision seen is the one the files were rendered from when PostgreSQL was started
  // or pointed at its leader: nothing to reload.
  if (applied === null) return { ...d, memory: { ...d.memory, appliedConfigRevision: rev } };
  if (d.actions.some((a) => URGENT.has(a.kind))) return { ...d, memory: { ...d.memory, appliedConfigRevision: applied } };
  return {
    ...d,
    actions: [...d.actions, { kind: 'applyDynamicConfig', revision: rev }],
    reason: `${d.reason}; applying the dynamic configuration of revision ${rev} (reload)`,
    memory: { ...d.memory, appliedConfigRevision: rev },
  };
}
