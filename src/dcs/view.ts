// Builds a ClusterView from one range read of the cluster prefix. Pure: both the etcd adapter and
// the in-memory fake feed it the same records, so they cannot disagree on how keys are read.
import type {
  ClusterView, InvalidKey, LeaderStatus, MemberView, Versioned,
} from '../core/cluster.js';
import type { Decoded } from './codec-util.js';
import { decodeConfig } from './codec-config.js';
import {
  decodeFailover, decodeHistory, decodeInitialize, decodeLeader, decodeStatus, decodeSync,
} from './codec-keys.js';
import { decodeMember } from './codec-member.js';
import { assertNever, parseRelativeKey } from './keys.js';

/** One key as etcd returns it, with the cluster prefix already stripped. */
export interface KvRecord {
  readonly key: string;
  readonly value: string;
  readonly createRevision: number;
  readonly modRevision: number;
  /** Lease id as a decimal string; '0' when the key has no lease. */
  readonly lease: string;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

export function emptyView(revision: number): ClusterView {
  return {
    revision, initialize: null, config: null, leader: null, members: [], failover: null,
    sync: null, history: null, status: null, invalid: [],
  };
}

function versioned<T>(d: Decoded<T>, kv: KvRecord, bad: InvalidKey[]): Versioned<T> | null {
  if (d.ok) {
    // Refused keys (issue 22): reported with the key, which is used without them.
    for (const r of d.refused ?? []) {
      bad.push({ key: kv.key, reason: `${r.path}: ${r.message}; this key is ignored, the rest of the configuration applies`, modRevision: kv.modRevision, refusedKey: r.path });
    }
    // One entry (one warning) for every unknown key: a newer version may have written several.
    if (d.unknown && d.unknown.length > 0) {
      bad.push({ key: kv.key, reason: `unknown keys kept and ignored: ${d.unknown.join(', ')} (written by a newer agent or Patroni?); the rest of the configuration applies`,
        modRevision: kv.modRevision, unknownKeys: d.unknown });
    }
    return { value: d.value, modRevision: kv.modRevision };
  }
  bad.push({ key: kv.key, reason: d.reason, modRevision: kv.modRevision });
  return null;
}

function plain<T>(d: Decoded<T>, kv: KvRecord, bad: InvalidKey[]): T | null {
  return versioned(d, kv, bad)?.value ?? null;
}

/**
 * Invalid values are treated as absent and listed in `invalid` (with their mod_revision) for the
 * caller to log; nothing here throws on bad data.
 */
export function buildClusterView(revision: number, records: readonly KvRecord[]): ClusterView {
  const view: Mutable<ClusterView> = emptyView(revision);
  const members: MemberView[] = [];
  const bad: InvalidKey[] = [];
  let legacyStatus: LeaderStatus | null = null;
  for (const kv of records) {
    const key = parseRelativeKey(kv.key);
    switch (key.kind) {
      case 'leader': {
        const name = plain(decodeLeader(kv.value), kv, bad);
        if (name !== null) {
          view.leader = { name, createRevision: kv.createRevision, modRevision: kv.modRevision, leaseId: kv.lease };
        }
        break;
      }
      case 'member': {
        const m = plain(decodeMember(key.name, kv.value), kv, bad);
        if (m !== null) members.push({ ...m, modRevision: kv.modRevision, leaseId: kv.lease });
        break;
      }
      case 'config':
        view.config = versioned(decodeConfig(kv.value), kv, bad);
        view.configStored = { value: kv.value, modRevision: kv.modRevision };
        break;
      case 'initialize': view.initialize = plain(decodeInitialize(kv.value), kv, bad); break;
      case 'failover': view.failover = versioned(decodeFailover(kv.value), kv, bad); break;
      case 'sync': view.sync = versioned(decodeSync(kv.value), kv, bad); break;
      case 'history': view.history = versioned(decodeHistory(kv.value), kv, bad); break;
      case 'status':
        view.status = plain(decodeStatus(kv.value), kv, bad);
        view.statusModRevision = kv.modRevision;
        break;
      case 'legacyOptime': legacyStatus = plain(decodeStatus(kv.value), kv, bad); break;
      case 'other': break;
      default: assertNever(key);
    }
  }
  view.status ??= legacyStatus;
  view.members = members.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  view.invalid = bad;
  return view;
}
