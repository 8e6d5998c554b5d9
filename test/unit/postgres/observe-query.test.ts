import { describe, expect, it } from 'vitest';
import { controlFromRow, runningFields, timelineOf } from '../../../src/postgres/observe-query.js';
import type { ObserveRow } from '../../../src/postgres/observe-query.js';

const primaryRow: ObserveRow = {
  in_recovery: false,
  current_lsn: '0/3000148',
  flush_lsn: '0/3000148',
  primary_timeline: 2,
  receive_lsn: null,
  replay_lsn: null,
  replay_ts: null,
  replay_paused: false,
  system_identifier: '7710826201019664084',
  checkpoint_timeline: 1,
  checkpoint_lsn: '0/3000060',
  redo_lsn: '0/3000028',
  min_recovery_end_lsn: '0/0',
  min_recovery_end_timeline: 0,
  checksum_version: 1,
  postmaster_start_time: '2026-11-22T03:03:48.123456+00:00',
  server_version: 150010,
  primary_conninfo: '',
  primary_slot_name: '',
  pending_restart: false,
  wal_receiver: null,
  replication: [
    { application_name: 'b', client_addr: '127.0.0.1', state: 'streaming', sync_state: 'async', sent_lsn: '0/3000148', write_lsn: '0/3000148', flush_lsn: '0/3000148', replay_lsn: null },
  ],
};

const replicaRow: ObserveRow = {
  ...primaryRow,
  in_recovery: true,
  current_lsn: null,
  flush_lsn: null,
  primary_timeline: null,
  receive_lsn: '0/3000148',
  replay_lsn: '0/3000100',
  replay_ts: '2026-11-22T03:04:00.5+00:00',
  checkpoint_timeline: 1,
  min_recovery_end_timeline: 1,
  primary_conninfo: "user=replicator password='x y' host=10.0.0.1 port=5432",
  primary_slot_name: 'c',
  wal_receiver: { status: 'streaming', sender_host: '10.0.0.1', sender_port: 5432, received_tli: 2, slot_name: 'c' },
  replication: [],
};

describe('observation mapping', () => {
  it('maps a primary: current timeline from its WAL file, LSNs as numbers', () => {
    const f = runningFields(primaryRow);
    expect(f).toMatchObject({ inRecovery: false, timeline: 2, currentLsn: 0x3000148, receiveLsn: null, walReceiver: null, primaryConninfo: null });
    expect(f.replication).toEqual([
      { applicationName: 'b', clientAddr: '127.0.0.1', state: 'streaming', syncState: 'async', sentLsn: 0x3000148, writeLsn: 0x3000148, flushLsn: 0x3000148, replayLsn: null },
    ]);
    expect(f.postmasterStartTime).toBe('2026-11-22T03:03:48.123456+00:00');
    expect(controlFromRow(primaryRow)).toMatchObject({ state: 'in production', timeline: 1, checkpointLsn: 0x3000060, dataChecksums: true });
  });

  it('maps a replica, redacting any password in primary_conninfo', () => {
    const f = runningFields(replicaRow);
    expect(f).toMatchObject({
      inRecovery: true,
      timeline: 2,
      receiveLsn: 0x3000148,
      replayLsn: 0x3000100,
      replayTimestamp: '2026-11-22T03:04:00.5+00:00',
      primarySlotName: 'c',
      walReceiver: { status: 'streaming', senderHost: '10.0.0.1', senderPort: 5432, receivedTimeline: 2, slotName: 'c' },
    });
    expect(f.primaryConninfo).not.toContain('x y');
    expect(controlFromRow(replicaRow).state).toBe('in archive recovery');
  });

  it('takes a replica timeline from pg_control when no WAL receiver runs', () => {
    expect(timelineOf({ ...replicaRow, wal_receiver: null, checkpoint_timeline: 3, min_recovery_end_timeline: 2 })).toBe(3);
  });
});
