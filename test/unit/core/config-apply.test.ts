// PATCH /config reaching PostgreSQL: decide() asks for a re-render and reload when the `config`
// key's revision moves past the one PostgreSQL's files were rendered from (src/core/config-apply.ts).
import { describe, expect, it } from 'vitest';
import { decide } from '../../../src/core/decide.js';
import { cluster, dynamicConfig, input, kinds, localPg, memory, replicaInput } from './builders.js';

const at = (modRevision: number) => cluster({ config: { value: dynamicConfig(), modRevision } });

describe('decide: the dynamic configuration reaches PostgreSQL', () => {
  it('records the first revision it sees without a reload (the files were rendered from it)', () => {
    const d = decide(input({ cluster: at(7) }));
    expect(kinds(d)).not.toContain('applyDynamicConfig');
    expect(d.memory.appliedConfigRevision).toBe(7);
  });

  it('reloads once on a new revision, after the tick\'s other actions, and says so', () => {
    const d = decide(replicaInput({ cluster: at(8), memory: memory({ appliedConfigRevision: 7 }) }));
    expect(d.actions.at(-1)).toEqual({ kind: 'applyDynamicConfig', revision: 8 });
    expect(d.reason).toMatch(/; applying the dynamic configuration of revision 8 \(reload\)$/);
    expect(d.memory.appliedConfigRevision).toBe(8);
    expect(kinds(decide(replicaInput({ cluster: at(8), memory: d.memory })))).not.toContain('applyDynamicConfig');
  });

  it('reloads again when last tick\'s reload failed or did not run', () => {
    const d = decide(replicaInput({ cluster: at(8), memory: memory({ appliedConfigRevision: 8 }), undone: ['applyDynamicConfig'] }));
    expect(d.actions.at(-1)).toEqual({ kind: 'applyDynamicConfig', revision: 8 });
  });

  it('leaves a fence alone in its tick, and owes the reload to a later one', () => {
    const d = decide(input({ cluster: at(9), leaseLeftMs: -1, memory: memory({ appliedConfigRevision: 8 }) }));
    expect(kinds(d)).toContain('fence');
    expect(kinds(d)).not.toContain('applyDynamicConfig');
    expect(d.memory.appliedConfigRevision).toBe(8);
  });

  it('does nothing while PostgreSQL is not running', () => {
    const d = decide(replicaInput({ cluster: at(9), local: localPg.down(), memory: memory({ appliedConfigRevision: 8 }) }));
    expect(kinds(d)).not.toContain('applyDynamicConfig');
    expect(d.memory.appliedConfigRevision).toBe(8);
  });
});
