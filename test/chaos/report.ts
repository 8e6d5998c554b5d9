// Per-fault summary of many rounds, as a plain-text table.
import type { RoundResult } from './round.js';

export interface FaultSummary {
  readonly fault: string;
  readonly rounds: number;
  /** Rounds whose fault itself could not be run (error), not counted as passing anything. */
  readonly errors: number;
  readonly splitBrainAcks: number;
  readonly splitBrainMonitor: number;
  readonly lostWrites: number;
  /** Rounds where lost writes could not be counted (no final primary). */
  readonly lostUnknown: number;
  readonly failoverMedianMs: number | null;
  readonly failoverMaxMs: number | null;
  readonly longestGapMs: number;
  readonly healthyAfter: number;
  readonly primaryChanges: number;
  readonly agentCrashes: number;
}

function median(xs: readonly number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] as number) : Math.round(((s[mid - 1] as number) + (s[mid] as number)) / 2);
}

export function summarize(results: readonly RoundResult[]): FaultSummary[] {
  const byFault = new Map<string, RoundResult[]>();
  for (const r of results) byFault.set(r.fault, [...(byFault.get(r.fault) ?? []), r]);
  return [...byFault].map(([fault, rs]) => {
    const fo = rs.map((r) => r.failoverMs).filter((x): x is number => x !== null);
    return {
      fault, rounds: rs.length, errors: rs.filter((r) => r.error !== null).length,
      splitBrainAcks: rs.reduce((n, r) => n + r.splitBrainAcks.length, 0),
      splitBrainMonitor: rs.reduce((n, r) => n + r.splitBrainMonitor.length, 0),
      lostWrites: rs.reduce((n, r) => n + (r.lostWrites?.length ?? 0), 0),
      lostUnknown: rs.filter((r) => r.lostWrites === null).length,
      failoverMedianMs: median(fo), failoverMaxMs: fo.length > 0 ? Math.max(...fo) : null,
      longestGapMs: Math.max(0, ...rs.map((r) => r.longestGapMs)),
      healthyAfter: rs.filter((r) => r.healthyAfterMs !== null).length,
      primaryChanges: rs.filter((r) => r.primaryChanged === true).length,
      agentCrashes: rs.reduce((n, r) => n + r.agentCrashes.length, 0),
    };
  });
}

const HEAD = ['fault', 'rounds', 'err', 'sb-acks', 'sb-mon', 'lost', 'lost?', 'failover med/max ms', 'max gap ms', 'healthy', 'changed', 'crashes'];

export function table(sums: readonly FaultSummary[]): string {
  const rows = sums.map((s) => [
    s.fault, String(s.rounds), String(s.errors), String(s.splitBrainAcks), String(s.splitBrainMonitor), String(s.lostWrites),
    String(s.lostUnknown),
    s.failoverMedianMs === null ? '-' : `${s.failoverMedianMs}/${String(s.failoverMaxMs)}`,
    String(s.longestGapMs), `${s.healthyAfter}/${s.rounds}`, String(s.primaryChanges), String(s.agentCrashes),
  ]);
  const widths = HEAD.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (cells: readonly string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i] as number)).join(' | ')} |`;
  return [line(HEAD), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

/** One line per round, for the log while the suite runs. */
export function roundLine(r: RoundResult): string {
  const crashes = r.agentCrashes.map((e) => `${e.node}:${String(e.code ?? e.signal)}`).join(',');
  return [
    `${r.fault}#${r.round}`, `leader ${r.leaderBefore}->${r.leaderAfter ?? '?'}`,
    `sb-acks ${r.splitBrainAcks.length}`, `sb-mon ${r.splitBrainMonitor.length}`,
    `lost ${r.lostWrites === null ? '?' : r.lostWrites.length}/${r.acked}`,
    `failover ${r.failoverMs ?? '-'}ms`, `gap ${r.longestGapMs}ms (+${r.gapStartAfterFaultMs}..heal${r.gapEndAfterHealMs >= 0 ? '+' : ''}${r.gapEndAfterHealMs})`,
    `healthy ${r.healthyAfterMs === null ? 'NO' : `${r.healthyAfterMs}ms`}`,
    crashes ? `crashes ${crashes}` : '',
    `acks ${Object.entries(r.acksByNode).map(([n, a]) => `${n}:${a.count}@${a.firstMs}..${a.lastMs}`).join(' ')}`,
    r.healthyAfterMs === null ? `final ${Object.entries(r.finalState).map(([n, s]) => `${n}:${String(s.primary)}/${String(s.role)}/${String(s.state)}/${String(s.replication)}${s.agentRunning ? '' : '/agent-down'}`).join(' ')}` : '', r.rebuilt ? 'rebuilt' : '', r.notes.join('; '), r.error ? `ERROR ${r.error}` : '',
  ].filter((x) => x !== '').join(' | ');
}
