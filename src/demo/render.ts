// The demo's cluster table, from each node's GET /patroni.
export interface NodeView {
  readonly name: string;
  readonly apiPort: number;
  readonly status: Record<string, unknown> | null;
}

const field = (o: unknown, k: string): unknown => (typeof o === 'object' && o !== null ? (o as Record<string, unknown>)[k] : undefined);

export function renderNodes(views: readonly NodeView[]): string {
  const leader = views.find((v) => field(v.status, 'role') === 'primary');
  const leaderLsn = Number(field(field(leader?.status, 'xlog'), 'location') ?? NaN);
  const rows = views.map((v) => {
    if (!v.status) return [v.name, '-', 'agent unreachable', '-', '-', '-'];
    const xlog = field(v.status, 'xlog');
    const received = Number(field(xlog, 'received_location') ?? NaN);
    const lag = Number.isFinite(leaderLsn) && Number.isFinite(received) ? `${Math.max(0, leaderLsn - received)}` : '';
    return [
      v.name,
      String(field(v.status, 'role') ?? '-'),
      String(field(v.status, 'state') ?? '-'),
      String(field(v.status, 'timeline') ?? '-'),
      lag,
      String(field(v.status, 'pg_ha_agent_reason') ?? field(field(v.status, 'pg_ha_agent'), 'reason') ?? ''),
    ];
  });
  const header = ['member', 'role', 'state', 'TL', 'lag bytes', 'last decision'];
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return all.map((r) => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd()).join('\n');
}
