// The last cluster view this run read from etcd, shared by the tick and everything that reads the
// dynamic configuration (the PostgreSQL adapter, the jobs, the fence's pause, the scheduler's wait).
// A port rather than tick state: those readers see the tick's view as soon as etcd answered, mid-tick
// too, so a pause or a config change read by this tick is in force for this tick's own actions.
import type { Logger } from 'pino';
import type { Config, DynamicConfig } from '../config/types.js';
import type { ClusterView } from '../core/cluster.js';
import { LastValidConfig } from './config-memory.js';
import { effectiveDynamicConfig } from './dynamic-config.js';

export class ViewStore {
  private last: ClusterView | null = null;
  private readonly validConfig: LastValidConfig;

  constructor(logger: Logger) {
    this.validConfig = new LastValidConfig(logger);
  }

  /** A view as read, with the last valid dynamic config in place of an undecodable one. */
  validate(view: ClusterView): ClusterView {
    return this.validConfig.apply(view);
  }

  /** The view dynamic() and the scheduler read from now on. */
  remember(view: ClusterView): void {
    this.last = view;
  }

  latest(): ClusterView | null {
    return this.last;
  }

  /** The dynamic configuration in force: etcd's, over the local file's bootstrap section. */
  dynamic(config: Config): DynamicConfig {
    return effectiveDynamicConfig(config, this.last);
  }
}
