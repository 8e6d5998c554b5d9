// The tags a member publishes (member key, GET /patroni), as Patroni publishes them
// (patroni/tags.py _filter_tags): its own boolean tags only when set, except nofailover next to
// failover_priority and nosync next to sync_priority (both are needed to see a contradiction);
// user tags always. Clients compare these objects whole (Patroni's suite checks
// `tags == {'new_tag': 'new_value'}` for a member configured with `clonefrom: false`).
import type { TagValue, Tags } from '../config/types.js';

const PATRONI_BOOLEAN_TAGS = new Set(['clonefrom', 'nofailover', 'noloadbalance', 'nosync', 'nostream']);

export function publishedTags(tags: Tags): Readonly<Record<string, TagValue>> {
  const out: Record<string, TagValue> = {};
  for (const [key, value] of Object.entries(tags)) {
    if (value === undefined || value === null) continue;
    const keep = !PATRONI_BOOLEAN_TAGS.has(key) || Boolean(value)
      || (key === 'nofailover' && tags.failover_priority !== undefined)
      || (key === 'nosync' && tags.sync_priority !== undefined);
    if (keep) out[key] = value;
  }
  return Object.freeze(out);
}
