// The WAL a stopped data directory holds, as its agent can vouch for it: the later of pg_control's
// position and the furthest position seen while PostgreSQL ran (simulator seed 319 of set 5).
import { describe, expect, it } from 'vitest';
import { laterWal, nextSeenWal } from '../../../src/core/seen-wal.js';
import { buildStatusSnapshot } from '../../../src/obs/status.js';
import { control, localPg } from './builders.js';

describe('nextSeenWal', () => {
  it('follows a running PostgreSQL (received on a replica, written on a primary)', () => {
    expect(nextSeenWal(null, localPg.replica({ receiveLsn: 9_000, replayLsn: 8_000, timeline: 3 }), null)).toEqual({ lsn: 9_000, timeline: 3 });
    expect(nextSeenWal(null, localPg.primary({ currentLsn: 7_000, timeline: 4 }), 'promote')).toEqual({ lsn: 7_000, timeline: 4 });
  });

  it('keeps the last one while PostgreSQL is down or hung', () => {
    const seen = { lsn: 9_000, timeline: 3 };
    expect(nextSeenWal(seen, localPg.down(), null)).toBe(seen);
    expect(nextSeenWal(seen, localPg.unresponsive(), 'startReplica')).toBe(seen);
  });

  it('forgets it when a job replaces or rewinds the data directory, or it is empty', () => {
    const seen = { lsn: 9_000, timeline: 3 };
    for (const job of ['bootstrap', 'clone', 'reinit', 'rejoin'] as const) expect(nextSeenWal(seen, localPg.down(), job)).toBeNull();
    expect(nextSeenWal(seen, localPg.empty(), null)).toBeNull();
  });
});

describe('laterWal', () => {
  it('takes the newer timeline first, then the larger position', () => {
    expect(laterWal({ lsn: 100, timeline: 2 }, { lsn: 50, timeline: 3 })).toEqual({ lsn: 50, timeline: 3 });
    expect(laterWal({ lsn: 100, timeline: 3 }, { lsn: 500, timeline: 2 })).toEqual({ lsn: 100, timeline: 3 });
    expect(laterWal({ lsn: 100, timeline: 3 }, { lsn: 500, timeline: 3 })).toEqual({ lsn: 500, timeline: 3 });
    expect(laterWal({ lsn: 100, timeline: 3 }, null)).toEqual({ lsn: 100, timeline: 3 });
  });
});

describe('the status snapshot of a stopped PostgreSQL', () => {
  const inputs = {
    name: 'pg2', scope: 'demo', agentVersion: 'pg-ha-agent/test', cluster: null, dcsOk: true, dcsLastSeenWallMs: null, holdsLeader: false,
    leaseValidUntilMs: -Infinity, dynamic: { ttl: 10, loop_wait: 2, maximum_lag_on_failover: 1_048_576, pause: false } as never, tags: {},
    pgState: 'stopped', lastDecision: { reason: 'r', actions: [] }, tickMonoMs: 0, counters: {} as never,
  };

  it('reports the furthest WAL seen while running when pg_control is behind it (a replica\'s old restartpoint)', () => {
    const local = localPg.down({ control: control({ state: 'in archive recovery', checkpointLsn: 1_500, timeline: 28 }) });
    expect(buildStatusSnapshot({ ...inputs, local } as never).stoppedWal).toEqual({ lsn: 1_500, timeline: 28 });
    expect(buildStatusSnapshot({ ...inputs, local, seenWal: { lsn: 165_092, timeline: 28 } } as never).stoppedWal).toEqual({ lsn: 165_092, timeline: 28 });
  });
});
