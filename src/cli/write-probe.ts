// How long writes were unavailable during a switchover or failover: every member is probed
// every 20 ms; the window runs from the last moment the old leader was seen writable to the
// first moment another member was. Probed on PostgreSQL itself when agentctl can log in (a
// persistent connection running `SELECT pg_is_in_recovery()`: a fast shutdown ends it at once,
// a promotion flips it without a reconnect), otherwise through the REST health check /primary
// (which answers from the agent's last tick, so it can lag PostgreSQL by a tick).
import pg from 'pg';
import type { Credentials } from '../config/types.js';
import type { MemberView } from '../core/cluster.js';
import { memberHealth } from './cluster.js';
import type { CtlContext } from './context.js';

export interface WritableProbe {
  /** true: accepts writes now; false: does not (down, in recovery, unreachable). */
  check(): Promise<boolean>;
  close(): Promise<void>;
}

export type PgProbeFactory = (member: Pick<MemberView, 'name' | 'connUrl'>) => WritableProbe;

export type ProbeSource = 'postgresql' | 'rest';

/** The real factory: a `pg` client per member with the config's superuser credentials. */
export function pgProbeFactory(superuser: Credentials, timeoutMs = 1000): PgProbeFactory {
  return (member) => {
    let client: pg.Client | null = null;
    const url = new URL(member.connUrl);
    const drop = async (): Promise<void> => {
      const c = client;
      client = null;
      await c?.end().catch(() => undefined);
    };
    return {
      async check() {
        try {
          if (!client) {
            const c = new pg.Client({
              host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port || 5432), database: 'postgres',
              user: superuser.username, ...(superuser.password !== undefined ? { password: superuser.password } : {}),
              connectionTimeoutMillis: timeoutMs, query_timeout: timeoutMs, application_name: 'agentctl',
            });
            c.on('error', () => undefined);
            client = c;
            await c.connect();
          }
          const rows = (await client.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r')).rows;
          return rows[0]?.r === false;
        } catch {
          await drop();
          return false;
        }
      },
      close: drop,
    };
  };
}

function restProbe(ctx: CtlContext, member: MemberView): WritableProbe {
  return {
    check: async () => (await memberHealth(ctx, member, '/primary', 500)) === 200,
    close: async () => undefined,
  };
}

interface Window {
  lastOldMs: number | null;
  firstNewMs: number | null;
  newMember: string | null;
}

/** Watches every member's writability until stopped; `result()` gives the unavailability window. */
export class WriteWindowMonitor {
  private stopped = false;
  private readonly loops: Promise<void>[] = [];
  private readonly windows = new Map<ProbeSource, Window>();
  private readonly probes: { source: ProbeSource; member: string; probe: WritableProbe }[] = [];

  constructor(private readonly ctx: CtlContext, private readonly oldLeader: string | null, members: readonly MemberView[], private readonly intervalMs = 20) {
    for (const m of members) {
      this.probes.push({ source: 'rest', member: m.name, probe: restProbe(ctx, m) });
      if (ctx.pgProbe) this.probes.push({ source: 'postgresql', member: m.name, probe: ctx.pgProbe(m) });
    }
    for (const s of ['rest', 'postgresql'] as const) this.windows.set(s, { lastOldMs: null, firstNewMs: null, newMember: null });
  }

  start(): void {
    for (const p of this.probes) this.loops.push(this.loop(p.source, p.member, p.probe));
  }

  private async loop(source: ProbeSource, member: string, probe: WritableProbe): Promise<void> {
    while (!this.stopped) {
      const t0 = this.ctx.clock.monoMs();
      const writable = await probe.check();
      this.observe(source, member, writable, this.ctx.clock.monoMs());
      const rest = this.intervalMs - (this.ctx.clock.monoMs() - t0);
      if (rest > 0 && !this.stopped) await this.ctx.sleep(rest);
    }
  }

  private observe(source: ProbeSource, member: string, writable: boolean, atMs: number): void {
    const w = this.windows.get(source)!;
    if (!writable || w.firstNewMs !== null) return;
    if (member === this.oldLeader) w.lastOldMs = atMs;
    else if (w.lastOldMs !== null || this.oldLeader === null) {
      w.firstNewMs = atMs;
      w.newMember = member;
    }
  }

  /** The member that became writable, once one did. */
  newWriter(): string | null {
    return this.windows.get('postgresql')?.newMember ?? this.windows.get('rest')?.newMember ?? null;
  }

  /** The most direct measurement available: PostgreSQL when it saw both ends, else REST. */
  result(): { gapMs: number; source: ProbeSource; lastOldMs: number | null; firstNewMs: number } | null {
    for (const source of ['postgresql', 'rest'] as const) {
      const w = this.windows.get(source)!;
      if (w.firstNewMs === null) continue;
      if (w.lastOldMs === null && this.oldLeader !== null) continue;
      return { gapMs: w.lastOldMs === null ? Number.NaN : w.firstNewMs - w.lastOldMs, source, lastOldMs: w.lastOldMs, firstNewMs: w.firstNewMs };
    }
    return null;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.loops);
    await Promise.all(this.probes.map((p) => p.probe.close()));
  }
}
