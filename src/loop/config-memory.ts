// The dynamic configuration in force when etcd's `config` value cannot be decoded (issue 13).
// Treating it as absent would fall back to bootstrap.dcs on every node at once: a paused cluster
// would silently leave pause, timings and parameters would jump. The last value this agent decoded
// stays in force instead, and the bad value is reported (once per version of the key) until an
// operator repairs it (PUT or PATCH /config, which work on the stored JSON).
import type { Logger } from 'pino';
import type { DynamicConfig } from '../config/types.js';
import type { ClusterView, Versioned } from '../core/cluster.js';

export class LastValidConfig {
  private last: Versioned<DynamicConfig> | null = null;
  private reportedRevision: number | null = null;

  constructor(private readonly log: Logger) {}

  /** The view with the last valid config in place of an undecodable one; unchanged otherwise. */
  apply(view: ClusterView): ClusterView {
    if (view.config !== null) {
      this.last = view.config;
      this.reportedRevision = null;
      return view;
    }
    const bad = view.invalid.find((b) => b.key === 'config' && b.refusedKey === undefined && b.unknownKeys === undefined);
    if (!bad) return view;
    const revision = bad.modRevision ?? 0;
    if (this.reportedRevision !== revision) {
      this.reportedRevision = revision;
      const err = { type: 'DcsValueError', code: 'CONFIG_UNDECODABLE', message: bad.reason };
      if (this.last) {
        this.log.error({ err, modRevision: revision, inForceModRevision: this.last.modRevision },
          'dynamic configuration in etcd cannot be decoded; the last valid one stays in force until it is repaired (PUT or PATCH /config)');
      } else {
        this.log.error({ err, modRevision: revision },
          'dynamic configuration in etcd cannot be decoded and this agent has seen no valid one; bootstrap.dcs applies until it is repaired (PUT or PATCH /config)');
      }
    }
    return this.last ? { ...view, config: this.last } : view;
  }
}
