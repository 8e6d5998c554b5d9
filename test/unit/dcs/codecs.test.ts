import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Decoded } from '../../../src/dcs/codec-util.js';
import { decodeConfig, encodeConfig } from '../../../src/dcs/codec-config.js';
import {
  decodeFailover, decodeHistory, decodeInitialize, decodeLeader, decodeStatus, decodeSync,
  encodeFailover, encodeHistory, encodeInitialize, encodeLeader, encodeStatus, encodeSync,
} from '../../../src/dcs/codec-keys.js';
import { decodeMember, encodeMember } from '../../../src/dcs/codec-member.js';
import { parseRelativeKey } from '../../../src/dcs/keys.js';

interface Case { source: string; key: string; value: string; expect?: Record<string, unknown> }
const fixtures = JSON.parse(
  readFileSync(new URL('../../fixtures/dcs/patroni-keys.json', import.meta.url), 'utf8'),
) as { cases: Case[]; readOnly: Case[] };

/** decode + encode for one relative key, whatever its kind. */
function codecFor(relative: string): { decode: (t: string) => Decoded<unknown>; encode: (v: never) => string } {
  const k = parseRelativeKey(relative);
  switch (k.kind) {
    case 'member': return { decode: (t) => decodeMember(k.name, t), encode: encodeMember };
    case 'config': return { decode: decodeConfig, encode: encodeConfig };
    case 'leader': return { decode: decodeLeader, encode: encodeLeader };
    case 'initialize': return { decode: decodeInitialize, encode: encodeInitialize };
    case 'failover': return { decode: decodeFailover, encode: encodeFailover };
    case 'sync': return { decode: decodeSync, encode: encodeSync };
    case 'history': return { decode: decodeHistory, encode: encodeHistory };
    case 'status': case 'legacyOptime': return { decode: decodeStatus, encode: encodeStatus };
    case 'other': throw new Error(`no codec for ${relative}`);
  }
}

function decodeOk(relative: string, text: string): unknown {
  const d = codecFor(relative).decode(text);
  if (!d.ok) throw new Error(`${relative}: ${d.reason}`);
  return d.value;
}

function reparse(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text; // leader and initialize are plain strings
  }
}

describe('Patroni fixtures round-trip through the codecs', () => {
  for (const c of fixtures.cases) {
    it(`${c.key} from ${c.source}`, () => {
      const codec = codecFor(c.key);
      const value = decodeOk(c.key, c.value);
      const again = codec.encode(value as never);
      if (parseRelativeKey(c.key).kind === 'config') {
        // Reading fills Patroni's defaults in: every key of the original keeps its value, and a
        // second round trip is stable.
        expect(reparse(again)).toMatchObject(reparse(c.value) as object);
        expect(decodeOk(c.key, again)).toEqual(value);
      } else {
        expect(reparse(again)).toEqual(reparse(c.value));
      }
    });
  }

  for (const c of fixtures.readOnly) {
    it(`reads ${c.key} from ${c.source}`, () => {
      expect(decodeOk(c.key, c.value)).toMatchObject(c.expect ?? {});
    });
  }
});

describe('status codec', () => {
  it('writes and reads our pause field (a status put in pause); Patroni\'s fields stay as they are', () => {
    const text = encodeStatus({ optime: 7, slots: { pg2: 5 }, pause: true });
    expect(JSON.parse(text)).toEqual({ optime: 7, slots: { pg2: 5 }, pause: true });
    const d = decodeStatus(text);
    expect(d.ok && d.value.pause).toBe(true);
    expect(JSON.parse(encodeStatus({ optime: 7 }))).toEqual({ optime: 7 });
    const plain = decodeStatus('{"optime":7,"pause":"yes"}');
    expect(plain.ok && plain.value.pause).toBeUndefined();
  });

  it('writes and reads the stopped mark of a clean release; a mark that is not a name is ignored', () => {
    const text = encodeStatus({ optime: 7, stopped: 'pg1' });
    expect(JSON.parse(text)).toEqual({ optime: 7, stopped: 'pg1' });
    const d = decodeStatus(text);
    expect(d.ok && d.value.stopped).toBe('pg1');
    for (const bad of ['{"optime":7,"stopped":true}', '{"optime":7,"stopped":""}']) {
      const x = decodeStatus(bad);
      expect(x.ok && x.value.stopped).toBeUndefined();
    }
  });
});

describe('member codec', () => {
  const base = { name: 'pg1', connUrl: 'postgres://127.0.0.1:5432/postgres', apiUrl: 'http://127.0.0.1:8008/patroni', state: 'running', role: 'primary' as const, tags: {} };

  it('writes the 4.x role word and our agent field, and omits empty tags and false pending_restart', () => {
    const json = JSON.parse(encodeMember({ ...base, agent: 'pg-ha-agent/0.1.0', pendingRestart: false, xlogLocation: 7 })) as Record<string, unknown>;
    expect(json).toEqual({
      conn_url: base.connUrl, api_url: base.apiUrl, state: 'running', role: 'primary', xlog_location: 7, agent: 'pg-ha-agent/0.1.0',
    });
  });

  it('writes and reads our lease_ttl field; a malformed one is dropped, not the member', () => {
    const text = encodeMember({ ...base, leaseTtl: 30 });
    expect(JSON.parse(text)).toMatchObject({ lease_ttl: 30 });
    const d = decodeMember('pg1', text);
    expect(d.ok && d.value.leaseTtl).toBe(30);
    const bad = decodeMember('pg1', JSON.stringify({ conn_url: base.connUrl, api_url: base.apiUrl, role: 'replica', lease_ttl: '30' }));
    expect(bad.ok && bad.value.leaseTtl).toBeUndefined();
  });

  it('writes and reads our pending_job_backoff field; a malformed one is dropped, not the member', () => {
    const jobBackoff = { job: 'rejoin', target: 'pg2', failures: 2, retryInSeconds: 9, error: 'boom' };
    const text = encodeMember({ ...base, jobBackoff });
    expect(JSON.parse(text)).toMatchObject({ pending_job_backoff: { job: 'rejoin', target: 'pg2', failures: 2, retry_in_seconds: 9, last_error: 'boom' } });
    const d = decodeMember('pg1', text);
    expect(d.ok && d.value.jobBackoff).toEqual(jobBackoff);
    const bad = decodeMember('pg1', JSON.stringify({ conn_url: base.connUrl, api_url: base.apiUrl, role: 'replica', pending_job_backoff: 'x' }));
    expect(bad.ok && bad.value.jobBackoff).toBeUndefined();
  });

  it.each([
    ['{', 'not JSON'],
    ['[1,2]', 'not a JSON object'],
    ['{"api_url":"http://x/patroni","role":"replica"}', 'no conn_url'],
    ['{"conn_url":"postgres://x/postgres","role":"replica"}', 'no api_url'],
    ['{"conn_url":"postgres://x/postgres","api_url":"http://x","role":"boss"}', 'role "boss" is not known'],
    ['{"conn_url":"postgres://x/postgres","api_url":"http://x","role":"replica","xlog_location":"0/3000"}', 'xlog_location is not an integer'],
    ['{"conn_url":"postgres://x/postgres","api_url":"http://x","role":"replica","tags":{"a":{"b":1}}}', 'tag a is not a scalar'],
  ])('rejects %s with a reason', (text, reason) => {
    const d = decodeMember('pg1', text);
    expect(d.ok).toBe(false);
    expect(d.ok ? '' : d.reason).toContain(reason);
  });

  it('round-trips the switchover_aborted extension and ignores a malformed one', () => {
    const aborted = { to: 'pg2', reason: 'postgresql did not stop cleanly', at: '2026-01-01T00:00:00.000Z' };
    const text = encodeMember({ ...base, switchoverAborted: aborted });
    expect(JSON.parse(text)).toMatchObject({ switchover_aborted: aborted });
    const d = decodeMember('pg1', text);
    expect(d.ok && d.value.switchoverAborted).toEqual(aborted);
    const bad = decodeMember('pg1', '{"conn_url":"postgres://x/postgres","api_url":"http://x","role":"primary","switchover_aborted":{"to":1}}');
    expect(bad.ok && bad.value.switchoverAborted).toBeUndefined();
  });

  it('accepts LSNs written as numeric strings (Patroni parses them leniently)', () => {
    const d = decodeMember('pg1', '{"conn_url":"postgres://x/postgres","api_url":"http://x","role":"replica","receive_lsn":"123"}');
    expect(d.ok && d.value.receiveLsn).toBe(123);
  });
});

describe('small key codecs', () => {
  it('rejects malformed values instead of throwing', () => {
    for (const [decode, text] of [
      [decodeLeader, ''], [decodeInitialize, 'abc'], [decodeFailover, '[1]'],
      [decodeFailover, '{"scheduled_at":"not a date"}'], [decodeSync, '"x"'], [decodeHistory, '{"a":1}'],
      [decodeHistory, '[[1,"x","r"]]'], [decodeStatus, '{"optime":"x"}'], [decodeStatus, '{"slots":[1]}'],
      [decodeConfig, '{"ttl":"long"}'], [decodeConfig, '[]'], [decodeConfig, '{"synchronous_mode":"sometimes","ttl":"long"}'],
    ] as const) {
      const d = (decode as (t: string) => Decoded<unknown>)(text);
      expect(d.ok, `${decode.name}(${text})`).toBe(false);
    }
  });

  it('writes sync_standby as a comma list, null when empty', () => {
    expect(JSON.parse(encodeSync({ leader: 'a', syncStandby: [] }))).toEqual({ leader: 'a', sync_standby: null });
    expect(JSON.parse(encodeSync({ leader: 'a', syncStandby: ['b', 'c'] }))).toEqual({ leader: 'a', sync_standby: 'b,c' });
  });

  it('writes history lines with 3, 4 or 5 items as Patroni does', () => {
    const text = encodeHistory([
      { timeline: 1, switchLsn: 10, reason: 'r' },
      { timeline: 2, switchLsn: 20, reason: 'r', timestamp: 't' },
      { timeline: 3, switchLsn: 30, reason: 'r', timestamp: 't', newLeader: 'pg1' },
    ]);
    expect(JSON.parse(text)).toEqual([[1, 10, 'r'], [2, 20, 'r', 't'], [3, 30, 'r', 't', 'pg1']]);
  });

  it('omits pause from config unless paused (Patroni deletes it on resume)', () => {
    const d = decodeConfig('{"ttl":30,"loop_wait":10,"retry_timeout":10}');
    if (!d.ok) throw new Error(d.reason);
    expect(JSON.parse(encodeConfig(d.value))).not.toHaveProperty('pause');
    expect(JSON.parse(encodeConfig({ ...d.value, pause: true }))).toHaveProperty('pause', true);
  });

  it('keeps dynamic keys it does not act on (passthrough) across a read-modify-write', () => {
    const d = decodeConfig('{"ttl":30,"loop_wait":10,"retry_timeout":10,"max_timelines_history":600}');
    if (!d.ok) throw new Error(d.reason);
    expect(JSON.parse(encodeConfig(d.value))).toHaveProperty('max_timelines_history', 600);
  });

  it('reads a stored config with refused keys without them, and names them (issue 22)', () => {
    const d = decodeConfig('{"ttl":30,"loop_wait":10,"retry_timeout":10,"synchronous_mode":"quorum","failsafe_mode":true,"member_slots_ttl":600,"slots":{"dr":{"type":"physical"}},"maximum_lag_on_failover":5}');
    if (!d.ok) throw new Error(d.reason);
    expect(d.value).toMatchObject({ synchronous_mode: 'quorum', failsafe_mode: false, maximum_lag_on_failover: 5 });
    expect(d.value).not.toHaveProperty('slots');
    expect(d.value).not.toHaveProperty('member_slots_ttl');
    expect(d.refused?.map((r) => r.path).sort()).toEqual(['failsafe_mode', 'member_slots_ttl', 'slots']);
  });
});
