import { describe, expect, it } from 'vitest';
import type { ControlData } from '../../../src/core/local-pg.js';
import { localPosition, needsRewind, parseCheckpointEnd, parseTimelineHistory } from '../../../src/postgres/timeline.js';

const HISTORY_3 = `1\t0/3000158\tno recovery target specified

2\t0/5000A28\tno recovery target specified
`;

function control(over: Partial<ControlData> = {}): ControlData {
  return {
    systemIdentifier: '1',
    state: 'shut down',
    timeline: 1,
    checkpointLsn: 0x3000100,
    redoLsn: 0x3000100,
    minRecoveryEndLsn: 0,
    minRecoveryEndTimeline: 0,
    dataChecksums: true,
    ...over,
  };
}

describe('parseTimelineHistory', () => {
  it('parses lines, skipping blanks and comments', () => {
    expect(parseTimelineHistory(`# comment\n${HISTORY_3}`)).toEqual([
      { parentTimeline: 1, switchLsn: 0x3000158, reason: 'no recovery target specified' },
      { parentTimeline: 2, switchLsn: 0x5000a28, reason: 'no recovery target specified' },
    ]);
  });

  it('rejects garbage with the offending line', () => {
    expect(() => parseTimelineHistory('1\tnot-an-lsn\tx')).toThrow(/not-an-lsn/);
  });
});

describe('localPosition', () => {
  it('uses the shutdown checkpoint of a former primary', () => {
    expect(localPosition(control())).toEqual({ kind: 'known', inRecovery: false, timeline: 1, lsn: 0x3000100 });
  });

  it('uses the minimum recovery point of a replica', () => {
    const c = control({ state: 'shut down in recovery', minRecoveryEndLsn: 0x4000000, minRecoveryEndTimeline: 2 });
    expect(localPosition(c)).toEqual({ kind: 'known', inRecovery: true, timeline: 2, lsn: 0x4000000 });
  });

  it('treats a recovery state with no minimum recovery point as a primary', () => {
    const c = control({ state: 'shut down in recovery' });
    expect(localPosition(c)).toMatchObject({ kind: 'known', inRecovery: false, lsn: 0x3000100 });
  });

  it('refuses to guess for a crashed primary', () => {
    expect(localPosition(control({ state: 'in production' })).kind).toBe('unclean');
  });
});

describe('needsRewind', () => {
  const leader = { leaderTimeline: 2, leaderTimelineHistory: '1\t0/3000158\tno recovery target specified\n' };

  it('needs a rewind when the former primary wrote past the fork point', () => {
    const d = needsRewind({ local: control({ checkpointLsn: 0x3000200 }), ...leader });
    expect(d).toMatchObject({ kind: 'needed', forkLsn: 0x3000158, localLsn: 0x3000200, localTimeline: 1 });
    expect(d.reason).toContain('0/3000158');
  });

  it('needs a rewind at exactly the fork point', () => {
    expect(needsRewind({ local: control({ checkpointLsn: 0x3000158 }), ...leader }).kind).toBe('needed');
  });

  it('needs none after a clean switchover: the shutdown checkpoint ends at the fork', () => {
    const d = needsRewind({ local: control({ checkpointLsn: 0x30000e0 }), ...leader, checkpointEndLsn: 0x3000158 });
    expect(d.kind).toBe('not-needed');
  });

  it('rewinds when the checkpoint ends elsewhere, or its end is unknown', () => {
    expect(needsRewind({ local: control({ checkpointLsn: 0x30000e0 }), ...leader, checkpointEndLsn: 0x3000150 }).kind).toBe('needed');
    expect(needsRewind({ local: control({ checkpointLsn: 0x30000e0 }), ...leader }).kind).toBe('needed');
  });

  it('needs none for a replica that did not replay past the fork', () => {
    const c = control({ state: 'shut down in recovery', minRecoveryEndLsn: 0x3000158, minRecoveryEndTimeline: 1 });
    expect(needsRewind({ local: c, ...leader }).kind).toBe('not-needed');
  });

  it('needs one for a replica that replayed past the fork', () => {
    const c = control({ state: 'shut down in recovery', minRecoveryEndLsn: 0x3000159, minRecoveryEndTimeline: 1 });
    expect(needsRewind({ local: c, ...leader }).kind).toBe('needed');
  });

  it('needs none on the same timeline', () => {
    expect(needsRewind({ local: control({ timeline: 2 }), ...leader }).kind).toBe('not-needed');
  });

  it('needs one when the local timeline is newer than the leader', () => {
    expect(needsRewind({ local: control({ timeline: 3 }), ...leader }).kind).toBe('needed');
  });

  it('finds the right entry in a longer history', () => {
    const local = control({ timeline: 2, checkpointLsn: 0x5000b00 });
    expect(needsRewind({ local, leaderTimeline: 3, leaderTimelineHistory: HISTORY_3 })).toMatchObject({ kind: 'needed', forkLsn: 0x5000a28 });
    const before = control({ timeline: 2, state: 'shut down in recovery', minRecoveryEndLsn: 0x5000000, minRecoveryEndTimeline: 2 });
    expect(needsRewind({ local: before, leaderTimeline: 3, leaderTimelineHistory: HISTORY_3 }).kind).toBe('not-needed');
  });

  it('needs one when the local timeline is missing from the history (a sibling branch)', () => {
    const history = '1\t0/3000158\tx\n3\t0/6000000\tx\n';
    expect(needsRewind({ local: control({ timeline: 2 }), leaderTimeline: 4, leaderTimelineHistory: history }).kind).toBe('needed');
  });

  it('is undetermined for an unclean data directory', () => {
    expect(needsRewind({ local: control({ state: 'in production' }), ...leader }).kind).toBe('undetermined');
  });
});

describe('parseCheckpointEnd', () => {
  // Real pg_waldump 15 stderr after dumping a shutdown checkpoint.
  const stderr = 'pg_waldump: error: error in WAL record at 0/17414F8: invalid record length at 0/1741570: wanted 24, got 0';

  it('reads where the record ends', () => {
    expect(parseCheckpointEnd(stderr, 0x17414f8)).toBe(0x1741570);
  });

  it('accepts the v16 wording', () => {
    const v16 = 'pg_waldump: error: error in WAL record at 0/17414F8: invalid record length at 0/1741570: expected at least 24, got 0';
    expect(parseCheckpointEnd(v16, 0x17414f8)).toBe(0x1741570);
  });

  it('returns null when the error is about another record', () => {
    expect(parseCheckpointEnd(stderr, 0x1741000)).toBeNull();
    expect(parseCheckpointEnd('', 0x17414f8)).toBeNull();
  });
});
