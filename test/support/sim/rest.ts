// GET /patroni between simulated nodes. The loop's probes (src/loop/peers.ts) and the switchover's
// fallback call the global fetch; during a run it is replaced by this router, which knows the
// caller from the `x-sim-from` header (the loop's probeHeaders) and answers as src/api does: the
// target's last status snapshot rendered by renderStatusBody, with the WAL position read from
// PostgreSQL at request time (overlayFreshWal). A frozen agent or a cut link answers nothing (the
// probe times out), a crashed agent refuses the connection.
import { overlayFreshWal, type FreshWal } from '../../../src/api/fresh-wal.js';
import { renderStatusBody } from '../../../src/api/health.js';
import type { StatusSnapshot } from '../../../src/obs/status.js';
import { agentRuns, byHost, byName, linked, nowMs, type SimNode, type WorldState } from './model.js';
import { walEnd } from './wal.js';

export const PROBE_HEADER = 'x-sim-from';
/** The loop's probe timeout (src/loop/agent-loop.ts maybeProbe). */
const PROBE_TIMEOUT_MS = 2_000;

/** What routes-health.ts liveStatus does: a snapshot that says running while the postmaster is gone says stopped. */
function liveStatus(snap: StatusSnapshot, n: SimNode): StatusSnapshot {
  if (snap.node.state !== 'running' || n.pg.running) return snap;
  const { postmaster_start_time: _t, replication_state: _r, replication: _l, ...node } = snap.node;
  return { ...snap, node: { ...node, state: 'stopped' } };
}

function freshWal(n: SimNode): FreshWal | null {
  const pg = n.pg;
  if (!pg.running) return null;
  const end = walEnd(pg.wal);
  return pg.recovery ? { inRecovery: true, location: null, received: end, replayed: end } : { inRecovery: false, location: end, received: null, replayed: null };
}

export function patroniBody(w: WorldState, n: SimNode): unknown {
  const snap = n.agent?.status;
  if (!snap) throw new Error('no status yet');
  const body = overlayFreshWal(renderStatusBody(liveStatus(snap, n), nowMs(w)), freshWal(n));
  return JSON.parse(JSON.stringify(body)) as unknown;
}

function callerOf(w: WorldState, init: RequestInit | undefined): SimNode {
  const headers = (init?.headers ?? {}) as Record<string, string>;
  const caller = byName(w, headers[PROBE_HEADER] ?? '');
  if (!caller?.agent) throw new Error(`simulated fetch without a live caller (${PROBE_HEADER}: ${headers[PROBE_HEADER]})`);
  return caller;
}

function simFetch(w: WorldState, url: string, init: RequestInit | undefined): Promise<Response> {
  const caller = callerOf(w, init);
  const owner = (caller.agent as NonNullable<SimNode['agent']>).owner;
  const target = byHost(w, new URL(url).hostname);
  const fail = (ms: number, why: string): Promise<Response> => owner.deliver(ms, () => { throw new TypeError(`fetch failed: ${why}`); });
  if (!target) return fail(1, 'ENOTFOUND');
  if (!linked(caller, target)) return fail(PROBE_TIMEOUT_MS, 'connect timeout');
  if (target.agent === null) return fail(w.rng.int(1, 5), 'ECONNREFUSED');
  if (!agentRuns(w, target)) return fail(PROBE_TIMEOUT_MS, 'timeout (no answer)');
  const there = w.rng.int(1, 5);
  const back = w.rng.int(1, 5);
  return new Promise<Response>((resolve, reject) => {
    // The probe's own timeout: a target that freezes or dies after accepting never answers.
    let settled = false;
    const settle = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      fn();
    };
    owner.after(PROBE_TIMEOUT_MS, () => settle(() => reject(new TypeError('fetch failed: timeout (no answer)'))));
    target.agent?.owner.after(there, () => {
      let body: unknown;
      try {
        body = patroniBody(w, target);
      } catch (err) {
        owner.after(back, () => settle(() => reject(err)));
        return;
      }
      owner.after(back, () => settle(() => resolve({ ok: true, status: 200, json: () => Promise.resolve(body) } as unknown as Response)));
    });
  });
}

/** Route the global fetch to the simulated nodes; returns the function that restores it. */
export function installFetch(w: WorldState): () => void {
  const real = globalThis.fetch;
  globalThis.fetch = ((input: string | URL | Request, init?: RequestInit) => simFetch(w, String(input instanceof Request ? input.url : input), init)) as typeof fetch;
  return () => {
    globalThis.fetch = real;
  };
}
