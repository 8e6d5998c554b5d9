import { describe, expect, it } from 'vitest';
import { publishedTags } from '../../../src/core/tags.js';
import { memberStatus } from '../../../src/loop/member-status.js';
import { testConfig } from '../api/fixtures.js';

describe('published tags (Patroni tags.py _filter_tags)', () => {
  it("leaves out Patroni's boolean tags when false, keeps user tags and set flags", () => {
    expect(publishedTags({ clonefrom: false, nofailover: false, noloadbalance: false, nosync: false, nostream: false, new_tag: 'new_value', zone: 0 }))
      .toEqual({ new_tag: 'new_value', zone: 0 });
    expect(publishedTags({ clonefrom: true, nostream: true, replicatefrom: 'pg1' })).toEqual({ clonefrom: true, nostream: true, replicatefrom: 'pg1' });
  });

  it('keeps nofailover next to failover_priority and nosync next to sync_priority (a contradiction must be visible)', () => {
    expect(publishedTags({ nofailover: false, failover_priority: 2, nosync: false, sync_priority: 0 }))
      .toEqual({ nofailover: false, failover_priority: 2, nosync: false, sync_priority: 0 });
  });

  it('the member key carries the same tags', () => {
    const config = testConfig('a', {}, { clonefrom: false, new_tag: 'v' });
    const m = memberStatus({ config, agent: 'pg-ha-agent/0', local: { kind: 'down', dataDir: 'empty', control: null, standbySignal: false }, holdsLeader: false, jobKind: null, reason: '' });
    expect(m.tags).toEqual({ new_tag: 'v' });
  });
});
