// Pure parser of `pg_controldata` output (run with LC_ALL=C so the labels are English).
import type { ControlData, ControlState } from '../core/local-pg.js';
import { parseLsn } from '../core/lsn.js';
import { AgentError } from '../errors.js';

const STATES: readonly ControlState[] = [
  'starting up',
  'shut down',
  'shut down in recovery',
  'shutting down',
  'in crash recovery',
  'in archive recovery',
  'in production',
];

/** Every "label: value" line, label as printed. */
export function parseControlDataFields(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split('\n')) {
    const i = line.indexOf(':');
    if (i <= 0) continue;
    fields.set(line.slice(0, i).trim(), line.slice(i + 1).trim());
  }
  return fields;
}

export class ControlDataParseError extends AgentError<'controldata-unparsable'> {
  constructor(message: string) {
    super('controldata-unparsable', message, { retryable: false });
  }
}

function required(fields: Map<string, string>, label: string): string {
  const v = fields.get(label);
  if (v === undefined) throw new ControlDataParseError(`pg_controldata output lacks "${label}"`);
  return v;
}

function lsnField(fields: Map<string, string>, label: string): number {
  const text = required(fields, label);
  const lsn = parseLsn(text);
  if (lsn === null) throw new ControlDataParseError(`pg_controldata "${label}" is not an LSN: ${text}`);
  return lsn;
}

function intField(fields: Map<string, string>, label: string): number {
  const text = required(fields, label);
  if (!/^\d+$/.test(text)) throw new ControlDataParseError(`pg_controldata "${label}" is not an integer: ${text}`);
  return Number(text);
}

export function parseControlState(text: string): ControlState {
  return STATES.find((s) => s === text) ?? 'unknown';
}

export function parseControlData(text: string): ControlData {
  const f = parseControlDataFields(text);
  const systemIdentifier = required(f, 'Database system identifier');
  if (!/^\d+$/.test(systemIdentifier)) {
    throw new ControlDataParseError(`pg_controldata system identifier is not a number: ${systemIdentifier}`);
  }
  return {
    systemIdentifier,
    state: parseControlState(required(f, 'Database cluster state')),
    timeline: intField(f, "Latest checkpoint's TimeLineID"),
    checkpointLsn: lsnField(f, 'Latest checkpoint location'),
    redoLsn: lsnField(f, "Latest checkpoint's REDO location"),
    minRecoveryEndLsn: lsnField(f, 'Minimum recovery ending location'),
    minRecoveryEndTimeline: intField(f, "Min recovery ending loc's timeline"),
    dataChecksums: (f.get('Data page checksum version') ?? '0') !== '0',
  };
}
