import { describe, expect, it } from 'vitest';
import { memberRows } from '../../../src/cli/cmd-list.js';
import { cluster, dynamicConfig, member } from '../core/builders.js';

describe('agentctl list: synchronous roles', () => {
  const members = [member('pg1', { role: 'primary' }), member('pg2'), member('pg3')];
  const sync = { leader: 'pg1', syncStandby: ['pg2'], quorum: 0 };

  it('quorum mode: a voter of the sync key is a quorum_standby (Quorum Standby)', () => {
    const c = cluster({ members, sync, config: { value: dynamicConfig({ synchronous_mode: 'quorum' }), modRevision: 3 } });
    expect(memberRows(c).map((r) => r.role)).toEqual(['leader', 'quorum_standby', 'replica']);
  });

  it('synchronous_mode true: a sync_standby', () => {
    const c = cluster({ members, sync, config: { value: dynamicConfig({ synchronous_mode: true }), modRevision: 3 } });
    expect(memberRows(c).map((r) => r.role)).toEqual(['leader', 'sync_standby', 'replica']);
  });
});
