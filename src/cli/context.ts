// What every agentctl command gets: the config, a read-only view of etcd, the REST client, the
// terminal, time. Built once by run.ts; unit tests build it from fakes.
import type { Clock } from '../core/clock.js';
import type { EtcdMemberHealth } from '../dcs/etcd-members.js';
import type { Dcs } from '../dcs/port.js';
import type { CtlConfig } from './ctl-config.js';
import type { RestClient } from './http.js';
import type { PgProbeFactory } from './write-probe.js';

export type OutputFormat = 'table' | 'json' | 'yaml';

export interface CtlIo {
  /** stdout */
  out(text: string): void;
  /** stderr: prompts, progress notes and errors. */
  err(text: string): void;
  /** Prints the question on stderr and reads one line from stdin; null when stdin is closed. */
  ask(question: string): Promise<string | null>;
  /** stdin and stdout are terminals (the interactive editor is allowed). */
  readonly interactive: boolean;
}

/**
 * The only etcd operations agentctl uses: reads, and the prefix delete of `remove`. It never
 * grants a lease or writes a member key (the Dcs grants its lease lazily, only for
 * touchMember/acquireLeader, which agentctl does not call); changes go through the REST API.
 */
export type ClusterReader = Pick<Dcs, 'snapshot' | 'removeCluster' | 'close'> & {
  /** The etcd Dcs asks each etcd member for its status (version); absent on fakes. */
  readonly refreshEtcdMembers?: () => Promise<readonly EtcdMemberHealth[]>;
};

export interface CtlContext {
  readonly config: CtlConfig;
  readonly dcs: ClusterReader;
  readonly rest: RestClient;
  readonly io: CtlIo;
  readonly format: OutputFormat;
  readonly clock: Clock;
  readonly sleep: (ms: number) => Promise<void>;
  /** Opens $EDITOR on a text and returns what was saved (edit-config without --set). */
  readonly edit?: (text: string) => Promise<string>;
  /** Connects to a member's PostgreSQL to time a switchover (absent: REST timing only). */
  readonly pgProbe?: PgProbeFactory;
  /** Scale for every wait (tests shorten them); 1 in production. */
  readonly timeScale?: number;
}
