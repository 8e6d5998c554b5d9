// The hand-over record a later (maybe upgraded) agent run reads: versioned, and refused when its
// version is not one this code reads (issue 21: fence, then join as a replica).
import { describe, expect, it } from 'vitest';
import { encodeHandover, HANDOVER_VERSION, parseGuardMessage, parseHandover } from '../../../src/fence/fence-guard-protocol.js';

describe('hand-over record', () => {
  it('round-trips, with the lease the leader key was proven under', () => {
    const text = encodeHandover({ pid: 42, armed: true, deadlineMonoMs: 1234.5, leaseId: '7587', paused: false });
    expect(JSON.parse(text)).toMatchObject({ format: 'pg-ha-agent/fence-guard-state', version: HANDOVER_VERSION });
    expect(parseHandover(text)).toEqual({ ok: true, record: { pid: 42, armed: true, deadlineMonoMs: 1234.5, leaseId: '7587', paused: false } });
  });

  it('keeps the pause the run last saw; a record written before that field reads as not paused', () => {
    const paused = parseHandover(encodeHandover({ pid: 3, armed: false, deadlineMonoMs: 0, leaseId: 'L', paused: true }));
    expect(paused).toMatchObject({ ok: true, record: { paused: true } });
    const older = JSON.stringify({ format: 'pg-ha-agent/fence-guard-state', version: HANDOVER_VERSION, pid: 3, armed: false, deadlineMonoMs: 0, leaseId: null });
    expect(parseHandover(older)).toMatchObject({ ok: true, record: { paused: false } });
    expect(parseGuardMessage(JSON.stringify({ type: 'disarm', leaseId: null, paused: true }))).toEqual({ type: 'disarm', leaseId: null, paused: true });
  });

  it('writes a deadline of -Infinity (no lease) as 0: already passed', () => {
    const r = parseHandover(encodeHandover({ pid: 1, armed: true, deadlineMonoMs: -Infinity, leaseId: null, paused: false }));
    expect(r).toMatchObject({ ok: true, record: { deadlineMonoMs: 0, leaseId: null } });
  });

  it('refuses a record without a format version (an older agent), naming the guard that wrote it', () => {
    const r = parseHandover(JSON.stringify({ pid: 99, armed: true, deadlineMonoMs: 5000 }));
    expect(r).toMatchObject({ ok: false, pid: 99 });
    expect(r.ok ? '' : r.reason).toMatch(/no format version/);
  });

  it('refuses another format version', () => {
    const r = parseHandover(JSON.stringify({ format: 'pg-ha-agent/fence-guard-state', version: 2, pid: 5, armed: true, deadlineMonoMs: 1, leaseId: 'x', epoch: 3 }));
    expect(r).toMatchObject({ ok: false, pid: 5 });
    expect(r.ok ? '' : r.reason).toMatch(/format version 2; this pg-ha-agent reads version 1/);
  });

  it('refuses garbage and mistyped fields', () => {
    expect(parseHandover('{').ok).toBe(false);
    expect(parseHandover('[]').ok).toBe(false);
    expect(parseHandover(JSON.stringify({ format: 'pg-ha-agent/fence-guard-state', version: 1, pid: 5, armed: 'yes', deadlineMonoMs: 1, leaseId: null })).ok).toBe(false);
  });
});

describe('guard messages', () => {
  it('carry the proven lease id on arm and disarm', () => {
    expect(parseGuardMessage('{"type":"arm","deadlineMonoMs":10,"leaseId":"ab"}')).toEqual({ type: 'arm', deadlineMonoMs: 10, leaseId: 'ab' });
    expect(parseGuardMessage('{"type":"disarm","leaseId":"ab"}')).toEqual({ type: 'disarm', leaseId: 'ab', paused: false });
    expect(parseGuardMessage('{"type":"disarm"}')).toEqual({ type: 'disarm', leaseId: null, paused: false });
    expect(parseGuardMessage('{"type":"exit"}')).toEqual({ type: 'exit' });
  });
});
