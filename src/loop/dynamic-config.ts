import type { Config, DynamicConfig } from '../config/types.js';
import type { ClusterView } from '../core/cluster.js';

/** The dynamic config in force: etcd's `config` key over bootstrap.dcs (which fills any gaps). */
export function effectiveDynamicConfig(config: Config, cluster: ClusterView | null): DynamicConfig {
  const stored = cluster?.config?.value;
  if (!stored) return config.bootstrap.dcs;
  const base = config.bootstrap.dcs;
  return {
    ...base,
    ...stored,
    postgresql: { ...base.postgresql, ...(stored.postgresql ?? {}) },
  } as DynamicConfig;
}
