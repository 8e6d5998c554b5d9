// The tick's observation: one etcd snapshot, the local PostgreSQL, the snapshot again when it
// disagrees with the lease keeper, and, when decide() asks for them (a probePeers decision), the
// peers' positions and PostgreSQL again when the probes or a job's end made the first reading stale.
import type { Config, DynamicConfig } from '../config/types.js';
import type { ClusterView } from '../core/cluster.js';
import type { PeerProbe } from '../core/decide-types.js';
import type { LocalPg } from '../core/local-pg.js';
import { errorMessage } from '../errors.js';
import { connUrl } from './member-status.js';
import { probePeers } from './peers.js';
import type { TickPorts, TickState } from './tick-types.js';

/** The probe's bound per member: an unreachable peer costs the tick this long, once. */
export const PROBE_TIMEOUT_MS = 2_000;

export interface ClusterRead {
  readonly state: TickState;
  readonly cluster: ClusterView | null;
  readonly dcsError: string | null;
}

/** The tick's first etcd snapshot; a view read is remembered at once for the dynamic config's readers. */
export async function readCluster(ports: TickPorts, state: TickState, config: Config, signal?: AbortSignal): Promise<ClusterRead> {
  const [cluster, dcsError] = await ports.dcs.snapshot({ ...(signal ? { signal } : {}) }).then(
    (c) => [ports.views.validate(c), null] as const,
    (err: unknown) => [null, errorMessage(err)] as const,
  );
  if (cluster === null) {
    ports.views.readFailed();
    return { state, cluster, dcsError };
  }
  ports.views.remember(cluster);
  const next = { ...state, dcsLastSeenWallMs: ports.clock.wallNowMs() };
  return { state: { ...next, reported: reportStrangers(ports, next, cluster, config) }, cluster, dcsError };
}

/** A live member reports strangers and twins once each; it does not stop for them (SPEC 5.12). */
function reportStrangers(ports: TickPorts, state: TickState, cluster: ClusterView, config: Config): ReadonlySet<string> {
  if (!state.joined) return state.reported;
  let reported = state.reported;
  for (const m of cluster.members) {
    const twin = m.name === config.name && m.leaseId !== ports.dcs.lease().leaseId && m.connUrl !== connUrl(config);
    const stranger = m.name !== config.name && m.agent === undefined;
    if (!twin && !stranger) continue;
    const id = `${m.name}@${m.leaseId ?? ''}`;
    if (reported.has(id)) continue;
    reported = new Set([...reported, id]);
    ports.logger.warn({ member: m.name, connUrl: m.connUrl },
      twin ? 'another agent uses this node\'s name; it must refuse to start (this live member keeps running)' : 'member without the pg-ha-agent field (Patroni?) in the cluster: ignored, never a candidate');
  }
  return reported;
}

export interface LocalRead {
  readonly local: LocalPg;
  readonly peers: Map<string, PeerProbe>;
  /** When the probes started: decide() compares it with the former leader's deadline (S2). */
  readonly probedAtMs: number;
  readonly dynamic: DynamicConfig;
  /** The job running when PostgreSQL was observed (one that ended since made the reading stale). */
  readonly jobAtObserve: unknown;
}

/** The local PostgreSQL (the peers are asked only when decide() asks for them: askPeers). */
export async function readLocal(ports: TickPorts, signal?: AbortSignal): Promise<LocalRead> {
  const jobAtObserve = ports.jobs.running();
  const observed = await ports.pg.observe(signal);
  // A job that ended while we observed (a promotion finishing) made the reading stale.
  const jobNow = ports.jobs.running();
  const local = jobNow !== jobAtObserve ? await ports.pg.observe(signal) : observed;
  const dynamic = ports.views.dynamic(ports.config());
  return { local, peers: new Map(), probedAtMs: ports.clock.monoMs(), dynamic, jobAtObserve: jobNow };
}

/** The peers' positions for a decision that asked for them, and PostgreSQL again when that reading went stale. */
export async function askPeers(ports: TickPorts, cluster: ClusterView | null, first: LocalRead, self: string, signal?: AbortSignal): Promise<LocalRead> {
  const probedAtMs = ports.clock.monoMs();
  const peers = cluster === null ? new Map<string, PeerProbe>() : await probe(ports, cluster, self);
  // Race (S2 d): our own position is read after the peers' fresh ones, never before them. Without
  // a streaming WAL receiver nothing arrives, and the first reading is still exact.
  // A writable primary's own position moves too: a stale one would rank it behind its replicas.
  const observed = first.local;
  const receiving = observed.kind === 'running' && (!observed.inRecovery || observed.walReceiver?.status === 'streaming');
  const jobEnded = ports.jobs.running() !== first.jobAtObserve;
  const local = (peers.size > 0 && receiving) || jobEnded ? await ports.pg.observe(signal) : observed;
  return { ...first, local, peers, probedAtMs };
}

function probe(ports: TickPorts, cluster: ClusterView, self: string): Promise<Map<string, PeerProbe>> {
  // Members without our agent field (Patroni, a stranger) are never candidates: not probed.
  return probePeers(cluster.members.filter((m) => m.agent !== undefined), self, { timeoutMs: PROBE_TIMEOUT_MS, http: ports.peerHttp });
}

/**
 * The lease keeper may have ended or re-proven our leadership while this tick observed (the
 * watch saw our key deleted, the retake won): a snapshot that disagrees with it is stale, and a
 * decision on it could fence a primary whose key was just taken back. Wait for a retake in
 * flight, then read again (bounded). A restarted agent's key under its previous run's lease is
 * not a disagreement: decide() re-attaches it.
 */
export async function consistentView(ports: TickPorts, cluster: ClusterView | null, self: string, signal?: AbortSignal): Promise<ClusterView | null> {
  const { dcs, fencing } = ports;
  let view = cluster;
  for (let i = 0; i < 2 && view !== null; i++) {
    await fencing.settled();
    const proven = dcs.leadership();
    const key = view.leader;
    const keyOursUnderOurLease = key?.name === self && key.leaseId === dcs.lease().leaseId;
    const stale = (proven !== null && key?.name !== self) || (proven === null && keyOursUnderOurLease);
    if (!stale) return view;
    ports.logger.info({ snapshotLeader: key?.name ?? null, proven: proven !== null }, 'snapshot disagrees with the lease keeper; reading etcd again');
    view = await dcs.snapshot({ ...(signal ? { signal } : {}) }).then((v) => ports.views.validate(v), () => view);
  }
  return confirmLeadership(ports, view, self, signal);
}

/**
 * Still "proven" by the lease keeper while etcd shows the key gone or someone else's: the watch
 * missed the change (a lossy link; seed 222 of set 6, where the keeper stayed "proven" under an
 * expired deadline and the fence stopped every start of the node's replica). One read of the key
 * settles it: if it is not ours, leadership ends now (retake or fence, as for any early loss).
 */
async function confirmLeadership(ports: TickPorts, view: ClusterView | null, self: string, signal?: AbortSignal): Promise<ClusterView | null> {
  const { dcs, fencing } = ports;
  if (view === null || dcs.leadership() === null || view.leader?.name === self) return view;
  if (await dcs.checkLeadership(signal).catch(() => true)) return view;
  await fencing.settled();
  return dcs.snapshot({ ...(signal ? { signal } : {}) }).then((v) => ports.views.validate(v), () => view);
}
