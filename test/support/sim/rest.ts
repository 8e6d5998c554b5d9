// GET /patroni between simulated nodes. The loop's probes (src/loop/peers.ts) and the switchover's
// fallback go through the PeerHttp port; each simulated agent gets one bound to its own name, which
// routes here and answers as src/api does: the
// target's last status snapshot rendered by renderStatusBody, with the WAL position read from
// PostgreSQL at request time (overlayFreshWal). A frozen agent or a cut link answers nothing (the
// probe times out), a crashed agent refuses the connection.
import { overlayFreshWal, type FreshWal } from '../../../src/api/fresh-wal.js';
import { renderStatusBody } from '../../../src/api/health.js';
import { liveSnapshot, type StatusSnapshot } from '../../../src/obs/status.js';
import { agentRuns, byHost, byName, linked, nowMs, type SimNode, type WorldState } from './model.js';
import { walEnd } from './wal.js';
import type { PeerHttp } from '../../../src/loop/peer-http.js';

/** The loop's probe timeout (src/loop/observe.ts PROBE_TIMEOUT_MS). */
const PROBE_TIMEOUT_MS = 2_000;

/** What routes-health.ts liveStatus does, with the postmaster and the job runner of the model. */
function liveStatus(snap: StatusSnapshot, n: SimNode): StatusSnapshot {
  return liveSnapshot(snap, snap.node.state !== 'running' || n.pg.running, n.agent?.startingAs() ?? null);
}

function freshWal(n: SimNode): FreshWal | null {
  const pg = n.pg;
  // A hung PostgreSQL does not answer the API's query either: the tick's snapshot is served.
  if (!pg.running || n.faults.pgHungUntilMs !== null) return null;
  const end = walEnd(pg.wal);
  return pg.recovery
    ? { inRecovery: true, location: null, received: end, replayed: end, timeline: pg.tl }
    : { inRecovery: false, location: end, received: null, replayed: null, timeline: pg.tl };
}

export function patroniBody(w: WorldState, n: SimNode): unknown {
  const snap = n.agent?.status;
  if (!snap) throw new Error('no status yet');
  const body = overlayFreshWal(renderStatusBody(liveStatus(snap, n), nowMs(w)), freshWal(n));
  return JSON.parse(JSON.stringify(body)) as unknown;
}

function simGet(w: WorldState, callerName: string, url: string): Promise<unknown> {
  const caller = byName(w, callerName);
  if (!caller?.agent) return Promise.reject(new Error(`simulated request without a live caller (${callerName})`));
  const owner = (caller.agent as NonNullable<SimNode['agent']>).owner;
  const target = byHost(w, new URL(url).hostname);
  const fail = (ms: number, why: string): Promise<unknown> => owner.deliver(ms, () => { throw new TypeError(`fetch failed: ${why}`); });
  if (!target) return fail(1, 'ENOTFOUND');
  const probe = `${callerName}>${target.name}`;
  w.probeFailedAt.delete(probe);
  if (!linked(caller, target)) {
    w.probeFailedAt.set(probe, nowMs(w));
    return fail(PROBE_TIMEOUT_MS, 'connect timeout');
  }
  // Any failed probe counts, not only a cut link: a frozen or stopped agent's member is as
  // unknown to this race (seed 22 of set 5: a probe of a frozen member, which ran again before
  // the promotion, was counted as reachable).
  const sentAt = nowMs(w);
  if (target.agent === null) {
    w.probeFailedAt.set(probe, sentAt);
    return fail(w.rng.int(1, 5), 'ECONNREFUSED');
  }
  if (!agentRuns(w, target)) {
    w.probeFailedAt.set(probe, sentAt);
    return fail(PROBE_TIMEOUT_MS, 'timeout (no answer)');
  }
  const there = w.rng.int(1, 5);
  const back = w.rng.int(1, 5);
  return new Promise<unknown>((resolve, reject) => {
    // The probe's own timeout: a target that freezes or dies after accepting never answers.
    let settled = false;
    const settle = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      fn();
    };
    owner.after(PROBE_TIMEOUT_MS, () => settle(() => {
      w.probeFailedAt.set(probe, sentAt);
      reject(new TypeError('fetch failed: timeout (no answer)'));
    }));
    target.agent?.owner.after(there, () => {
      let body: unknown;
      try {
        body = patroniBody(w, target);
      } catch (err) {
        owner.after(back, () => settle(() => {
          w.probeFailedAt.set(probe, sentAt);
          reject(err);
        }));
        return;
      }
      owner.after(back, () => settle(() => resolve(body)));
    });
  });
}

/** The PeerHttp of the simulated agent `callerName`: its requests to other members, routed here. */
export function simPeerHttp(w: WorldState, callerName: string): PeerHttp {
  return { getJson: (url) => simGet(w, callerName, url) };
}
