// Codecs for the small keys: leader, initialize, failover, sync, history, status.
import type { FailoverRequest, HistoryEntry, LeaderStatus, Lsn, SyncState } from '../core/cluster.js';
import {
  compactJson, defined, FieldReader, intField, invalid, isRecord, ok, parseJson,
  type Decoded, type JsonRecord,
} from './codec-util.js';

// leader: the plain member name.
export function decodeLeader(text: string): Decoded<string> {
  return text.trim() === '' ? invalid('leader key is empty') : ok(text);
}
export function encodeLeader(name: string): string {
  return name;
}

// initialize: the system identifier as decimal text. Patroni writes "" first while the
// bootstrap runs and the identifier afterwards; both are valid.
export function decodeInitialize(text: string): Decoded<string> {
  return /^\d*$/.test(text) ? ok(text) : invalid('initialize is not a system identifier');
}
export function encodeInitialize(systemId: string): string {
  if (!/^\d*$/.test(systemId)) throw new TypeError(`system identifier must be decimal digits, got ${JSON.stringify(systemId)}`);
  return systemId;
}

// failover: {"leader","member","scheduled_at"}; Patroni also reads the legacy "leader:member".
export function decodeFailover(text: string): Decoded<FailoverRequest> {
  const parsed = parseJson(text);
  if (!parsed.ok) {
    const [leader, member] = text.split(':').map((s) => s.trim());
    return ok(defined<FailoverRequest>({ leader: leader || undefined, member: member || undefined }));
  }
  if (parsed.value === null) return ok({});
  if (!isRecord(parsed.value)) return invalid('failover is not a JSON object');
  const r = new FieldReader(parsed.value);
  const req = defined<FailoverRequest>({
    leader: r.str('leader') || undefined,
    member: r.str('member') || undefined,
    scheduledAt: r.str('scheduled_at') || undefined,
  });
  if (r.problem !== null) return invalid(r.problem);
  if (req.scheduledAt !== undefined && Number.isNaN(Date.parse(req.scheduledAt))) {
    return invalid(`failover scheduled_at ${JSON.stringify(req.scheduledAt)} is not a timestamp`);
  }
  return ok(req);
}
export function encodeFailover(req: FailoverRequest): string {
  const out: JsonRecord = {};
  if (req.leader !== undefined) out['leader'] = req.leader;
  if (req.member !== undefined) out['member'] = req.member;
  if (req.scheduledAt !== undefined) out['scheduled_at'] = req.scheduledAt;
  return compactJson(out);
}

// sync: {"leader": name, "sync_standby": "a,b" | null} (+ "quorum" in Patroni 4).
export function decodeSync(text: string): Decoded<SyncState> {
  const parsed = parseJson(text);
  if (!parsed.ok) return parsed;
  if (!isRecord(parsed.value)) return invalid('sync is not a JSON object');
  const r = new FieldReader(parsed.value);
  const leader = r.str('leader') || null;
  const standby = r.str('sync_standby') ?? '';
  const quorum = r.int('quorum');
  if (r.problem !== null) return invalid(r.problem);
  const syncStandby = standby.split(',').map((s) => s.trim()).filter((s) => s !== '');
  return ok(defined<SyncState>({ leader, syncStandby, quorum }));
}
export function encodeSync(sync: SyncState): string {
  const out: JsonRecord = { leader: sync.leader };
  if (sync.quorum !== undefined) out['quorum'] = sync.quorum;
  out['sync_standby'] = sync.syncStandby.length > 0 ? sync.syncStandby.join(',') : null;
  return compactJson(out);
}

// history: [[timeline, switch_lsn, reason, timestamp?, new_leader?], ...]
function decodeHistoryLine(line: unknown, index: number): Decoded<HistoryEntry> {
  if (!Array.isArray(line) || line.length < 3) return invalid(`history line ${index} is not a list of 3 to 5 items`);
  const cells: JsonRecord = { tl: line[0], lsn: line[1] };
  const timeline = intField(cells, 'tl');
  const switchLsn = intField(cells, 'lsn');
  const [, , reason, timestamp, newLeader] = line as unknown[];
  if (timeline == null || switchLsn == null) return invalid(`history line ${index} has a bad timeline or lsn`);
  if (typeof reason !== 'string') return invalid(`history line ${index} has a bad reason`);
  const ts = typeof timestamp === 'string' && timestamp !== '' ? timestamp : undefined;
  const leader = typeof newLeader === 'string' && newLeader !== '' ? newLeader : undefined;
  return ok(defined<HistoryEntry>({ timeline, switchLsn, reason, timestamp: ts, newLeader: leader }));
}

export function decodeHistory(text: string): Decoded<readonly HistoryEntry[]> {
  const parsed = parseJson(text);
  if (!parsed.ok) return parsed;
  if (!Array.isArray(parsed.value)) return invalid('history is not a JSON list');
  const out: HistoryEntry[] = [];
  for (const [i, line] of parsed.value.entries()) {
    const entry = decodeHistoryLine(line, i);
    if (!entry.ok) return entry;
    out.push(entry.value);
  }
  return ok(out);
}
export function encodeHistory(entries: readonly HistoryEntry[]): string {
  return compactJson(entries.map((e) => {
    const line: unknown[] = [e.timeline, e.switchLsn, e.reason];
    if (e.timestamp !== undefined || e.newLeader !== undefined) line.push(e.timestamp ?? '');
    if (e.newLeader !== undefined) line.push(e.newLeader);
    return line;
  }));
}

// status: {"optime": int, "slots": {name: int}, "retain_slots": [name]}; before Patroni 2.1 the
// leader LSN was a bare integer (also the value of the legacy optime/leader key).
function decodeSlots(value: unknown): Decoded<Record<string, Lsn> | undefined> {
  if (value === undefined || value === null) return ok(undefined);
  if (!isRecord(value)) return invalid('status slots is not an object');
  const slots: Record<string, Lsn> = {};
  for (const name of Object.keys(value)) {
    const lsn = intField(value, name);
    if (lsn == null) return invalid(`status slot ${name} has a bad lsn`);
    slots[name] = lsn;
  }
  return ok(slots);
}

export function decodeStatus(text: string): Decoded<LeaderStatus> {
  const parsed = parseJson(text);
  if (!parsed.ok) return parsed;
  const v = parsed.value;
  if (typeof v === 'number' || typeof v === 'string') {
    const optime = intField({ v }, 'v');
    return optime == null ? invalid('status is not an LSN') : ok({ optime });
  }
  if (!isRecord(v)) return invalid('status is not a JSON object');
  const optime = intField(v, 'optime');
  if (optime === null) return invalid('status optime is not an integer');
  const slots = decodeSlots(v['slots']);
  if (!slots.ok) return slots;
  const retain = v['retain_slots'];
  if (retain !== undefined && retain !== null && !(Array.isArray(retain) && retain.every((s) => typeof s === 'string'))) {
    return invalid('status retain_slots is not a list of names');
  }
  return ok(defined<LeaderStatus>({
    optime: optime ?? null,
    slots: slots.value,
    retainSlots: (retain ?? undefined) as readonly string[] | undefined,
    pause: v['pause'] === true ? true : undefined,
    stopped: typeof v['stopped'] === 'string' && v['stopped'] !== '' ? v['stopped'] : undefined,
    leader: typeof v['leader'] === 'string' && v['leader'] !== '' ? v['leader'] : undefined,
  }));
}
export function encodeStatus(status: LeaderStatus): string {
  const out: JsonRecord = {};
  if (status.optime !== null) out['optime'] = status.optime;
  if (status.slots !== undefined) out['slots'] = status.slots;
  if (status.retainSlots !== undefined) out['retain_slots'] = status.retainSlots;
  if (status.pause === true) out['pause'] = true;
  if (status.stopped !== undefined) out['stopped'] = status.stopped;
  if (status.leader !== undefined) out['leader'] = status.leader;
  return compactJson(out);
}
