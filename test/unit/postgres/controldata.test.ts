import { describe, expect, it } from 'vitest';
import { ControlDataParseError, parseControlData, parseControlState } from '../../../src/postgres/controldata.js';

// Real PostgreSQL 15 output (LC_ALL=C), trimmed of lines the parser does not read.
const SAMPLE = `pg_control version number:            1300
Catalog version number:               202209061
Database system identifier:           7710826201019664084
Database cluster state:               shut down
pg_control last modified:             Sun Nov 22 03:03:48 2026
Latest checkpoint location:           0/17414F8
Latest checkpoint's REDO location:    0/17414F8
Latest checkpoint's REDO WAL file:    000000010000000000000001
Latest checkpoint's TimeLineID:       1
Latest checkpoint's PrevTimeLineID:   1
Latest checkpoint's oldestCommitTsXid:0
Minimum recovery ending location:     0/0
Min recovery ending loc's timeline:   0
wal_log_hints setting:                off
Data page checksum version:           1
`;

describe('parseControlData', () => {
  it('reads the fields the agent uses', () => {
    expect(parseControlData(SAMPLE)).toEqual({
      systemIdentifier: '7710826201019664084',
      state: 'shut down',
      timeline: 1,
      checkpointLsn: 0x17414f8,
      redoLsn: 0x17414f8,
      minRecoveryEndLsn: 0,
      minRecoveryEndTimeline: 0,
      dataChecksums: true,
    });
  });

  it('keeps the system identifier as a string (it does not fit a double)', () => {
    expect(typeof parseControlData(SAMPLE).systemIdentifier).toBe('string');
  });

  it('reads a replica shut down in recovery with a high LSN', () => {
    const text = SAMPLE.replace('shut down', 'shut down in recovery')
      .replace('Minimum recovery ending location:     0/0', 'Minimum recovery ending location:     1A/B374D848')
      .replace("Min recovery ending loc's timeline:   0", "Min recovery ending loc's timeline:   3")
      .replace('Data page checksum version:           1', 'Data page checksum version:           0');
    const c = parseControlData(text);
    expect(c.state).toBe('shut down in recovery');
    expect(c.minRecoveryEndLsn).toBe(0x1a * 2 ** 32 + 0xb374d848);
    expect(c.minRecoveryEndTimeline).toBe(3);
    expect(c.dataChecksums).toBe(false);
  });

  it('maps unknown states to unknown', () => {
    expect(parseControlState('in production')).toBe('in production');
    expect(parseControlState('something new')).toBe('unknown');
  });

  it('names the missing field', () => {
    const text = SAMPLE.replace(/^Latest checkpoint location:.*\n/m, '');
    expect(() => parseControlData(text)).toThrow(ControlDataParseError);
    expect(() => parseControlData(text)).toThrow('Latest checkpoint location');
  });

  it('rejects a malformed LSN with the field name', () => {
    const text = SAMPLE.replace('0/17414F8\nLatest checkpoint\'s REDO', 'zz\nLatest checkpoint\'s REDO');
    expect(() => parseControlData(text)).toThrow(/Latest checkpoint location.*zz/);
  });
});
