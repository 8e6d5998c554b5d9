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
  private failedReads = 0;
  private readonly validConfig: LastValidConfig;

  /**
   * pausedBeforeRead: the previous agent run on this data dir last saw pause (its hand-over
   * record). Until this run reads etcd, that pause stays in force for everyone who reads the
   * dynamic config (the decision, the fence, the REST status): the operator's hold on a
   * PostgreSQL is not dropped for want of an etcd answer (SPEC 5.8).
   */
  constructor(logger: Logger, private readonly pausedBeforeRead = false) {
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

  /** A tick's read of etcd failed (the fence judges a run that never read etcd by it). */
  readFailed(): void {
    this.failedReads += 1;
  }

  /** Has this run read the cluster: yes, not yet, or tried and failed. */
  readState(): 'read' | 'pending' | 'unreadable' {
    if (this.last !== null) return 'read';
    return this.failedReads > 0 ? 'unreadable' : 'pending';
  }

  /** The dynamic configuration in force: etcd's, over the local file's bootstrap section. */
  dynamic(config: Config): DynamicConfig {
    const d = effectiveDynamicConfig(config, this.last);
    return this.last === null && this.pausedBeforeRead ? { ...d, pause: true } : d;
  }
}
