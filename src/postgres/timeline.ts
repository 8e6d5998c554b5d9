// Pure S4 logic: did this former primary (or replica) write past the point where the new leader's
// timeline forked off? Inputs are the local pg_control and the leader's timeline history file.
import type { Lsn } from '../core/cluster.js';
import type { ControlData } from '../core/local-pg.js';
import { formatLsn, parseLsn } from '../core/lsn.js';

export interface HistoryLine {
  /** The timeline that ended at switchLsn. */
  readonly parentTimeline: number;
  /** First LSN of the next timeline. */
  readonly switchLsn: Lsn;
  readonly reason: string;
}

/** Parse a `0000000N.history` file (as returned by TIMELINE_HISTORY or pg_read_binary_file). */
export function parseTimelineHistory(text: string): HistoryLine[] {
  const out: HistoryLine[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const [tli, lsn, ...rest] = line.split(/\s+/);
    const switchLsn = lsn === undefined ? null : parseLsn(lsn);
    if (tli === undefined || !/^\d+$/.test(tli) || switchLsn === null) {
      throw new Error(`invalid timeline history line: ${JSON.stringify(raw)}`);
    }
    out.push({ parentTimeline: Number(tli), switchLsn, reason: rest.join(' ') });
  }
  return out;
}

/** Where the local data directory stopped, as far as pg_control tells. */
export type LocalPosition =
  | { readonly kind: 'known'; readonly inRecovery: boolean; readonly timeline: number; readonly lsn: Lsn }
  | { readonly kind: 'unclean'; readonly reason: string };

/** Patroni's reading: a replica's minimum recovery point, a primary's shutdown checkpoint. */
export function localPosition(control: ControlData): LocalPosition {
  let state = control.state;
  if (state === 'shut down in recovery' || state === 'in archive recovery') {
    if (control.minRecoveryEndLsn !== 0 && control.minRecoveryEndTimeline !== 0) {
      return { kind: 'known', inRecovery: true, timeline: control.minRecoveryEndTimeline, lsn: control.minRecoveryEndLsn };
    }
    // Minimum recovery point 0/0: it was a primary when it stopped.
    state = 'shut down';
  }
  if (state === 'shut down') {
    return { kind: 'known', inRecovery: false, timeline: control.timeline, lsn: control.checkpointLsn };
  }
  return {
    kind: 'unclean',
    reason: `data directory was not shut down cleanly (state "${control.state}"): crash recovery must run first`,
  };
}

export interface RewindInput {
  readonly local: ControlData;
  /** The leader's current timeline. */
  readonly leaderTimeline: number;
  /** Contents of the leader's history file for leaderTimeline ('' on timeline 1). */
  readonly leaderTimelineHistory: string;
  /**
   * End of the local shutdown checkpoint record (pg_waldump), for a former primary. A cleanly
   * stopped primary whose checkpoint ends exactly at the fork point (a switchover) needs no rewind.
   */
  readonly checkpointEndLsn?: Lsn | null;
}

export type RewindDecision =
  | {
      readonly kind: 'needed' | 'not-needed';
      readonly reason: string;
      readonly localTimeline: number;
      readonly localLsn: Lsn;
      readonly forkLsn: Lsn | null;
    }
  | { readonly kind: 'undetermined'; readonly reason: string };

export function needsRewind(input: RewindInput): RewindDecision {
  const pos = localPosition(input.local);
  if (pos.kind === 'unclean') return { kind: 'undetermined', reason: pos.reason };
  const base = { localTimeline: pos.timeline, localLsn: pos.lsn };
  const at = `timeline ${pos.timeline} at ${formatLsn(pos.lsn)}`;
  if (pos.timeline > input.leaderTimeline) {
    return { kind: 'needed', reason: `local ${at} is on a newer timeline than the leader's ${input.leaderTimeline}`, ...base, forkLsn: null };
  }
  if (pos.timeline === input.leaderTimeline) {
    return { kind: 'not-needed', reason: `local ${at} is on the leader's timeline`, ...base, forkLsn: null };
  }
  const history = parseTimelineHistory(input.leaderTimelineHistory);
  for (const h of history) {
    if (h.parentTimeline > pos.timeline) {
      return { kind: 'needed', reason: `local timeline ${pos.timeline} is not in the leader's history`, ...base, forkLsn: null };
    }
    if (h.parentTimeline !== pos.timeline) continue;
    const fork = formatLsn(h.switchLsn);
    return { ...forkDecision(pos, h.switchLsn, input.checkpointEndLsn, at, fork), ...base, forkLsn: h.switchLsn };
  }
  return { kind: 'needed', reason: `local timeline ${pos.timeline} is not in the leader's history`, ...base, forkLsn: null };
}

function forkDecision(
  pos: { inRecovery: boolean; lsn: Lsn },
  fork: Lsn,
  checkpointEnd: Lsn | null | undefined,
  at: string,
  forkText: string,
): { kind: 'needed' | 'not-needed'; reason: string } {
  if (pos.inRecovery) {
    return pos.lsn > fork
      ? { kind: 'needed', reason: `replica replayed ${at}, past the fork point ${forkText}` }
      : { kind: 'not-needed', reason: `replica ${at} is not past the fork point ${forkText}` };
  }
  if (pos.lsn >= fork) {
    return { kind: 'needed', reason: `former primary wrote ${at}, at or past the fork point ${forkText}` };
  }
  if (checkpointEnd === undefined || checkpointEnd === null) {
    return { kind: 'needed', reason: `end of the shutdown checkpoint at ${at} is unknown; rewinding to be safe (fork ${forkText})` };
  }
  return checkpointEnd === fork
    ? { kind: 'not-needed', reason: `former primary's shutdown checkpoint ends at the fork point ${forkText}` }
    : { kind: 'needed', reason: `former primary's shutdown checkpoint ends at ${formatLsn(checkpointEnd)}, not at the fork point ${forkText}` };
}

/**
 * From `pg_waldump -s <checkpoint> -n 2` on a cleanly stopped primary: the dump of the second
 * record fails with "invalid record length at X", and X is where the checkpoint record ends.
 */
export function parseCheckpointEnd(stderr: string, checkpointLsn: Lsn): Lsn | null {
  const re = /error in WAL record at ([0-9A-F]+\/[0-9A-F]+): invalid record length at ([0-9A-F]+\/[0-9A-F]+)/i;
  for (const line of stderr.split('\n')) {
    const m = re.exec(line);
    if (!m || m[1] === undefined || m[2] === undefined) continue;
    if (parseLsn(m[1]) !== checkpointLsn) continue;
    return parseLsn(m[2]);
  }
  return null;
}
