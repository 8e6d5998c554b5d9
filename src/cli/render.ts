// Output: tables drawn like patronictl's (PrettyTable with the title in the top border), JSON and
// YAML. Pure functions of their input.
import { stringify } from 'yaml';
import type { OutputFormat } from './context.js';

export interface Table {
  readonly title?: string;
  readonly columns: readonly string[];
  readonly rows: readonly (readonly string[])[];
  /** Columns aligned right (numbers). */
  readonly right?: readonly string[];
}

function border(widths: readonly number[]): string {
  return `+${widths.map((w) => '-'.repeat(w + 2)).join('+')}+`;
}

function withTitle(line: string, title: string): string {
  const head = `+ ${title} `;
  if (head.length + 1 >= line.length) return `${head}+`;
  // Continue the border after the title; keep the column joints that are not covered.
  return head + line.slice(head.length).replace(/^[^-+]*/, '');
}

/**
 * Text for a terminal: control characters other than newline and tab are dropped. Member names,
 * tags and reasons come from etcd, where anyone with write access can put an escape sequence that
 * would rewrite the operator's screen or title (issue 13). JSON output escapes them by itself.
 */
export function terminalSafe(text: string): string {
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, '');
}

function cellLines(cell: string): string[] {
  return terminalSafe(cell).split('\n');
}

export function renderTable(t: Table): string {
  const all = [t.columns, ...t.rows];
  const widths = t.columns.map((_, i) => Math.max(...all.map((r) => Math.max(...cellLines(r[i] ?? '').map((l) => l.length)))));
  const titleMin = t.title === undefined ? 0 : t.title.length + 5;
  const total = widths.reduce((a, w) => a + w + 3, 1);
  if (total < titleMin && widths.length > 0) widths[widths.length - 1]! += titleMin - total;
  const right = new Set(t.right ?? []);
  const line = (cells: readonly string[]): string[] => {
    const height = Math.max(1, ...cells.map((c) => cellLines(c).length));
    const out: string[] = [];
    for (let h = 0; h < height; h++) {
      const parts = widths.map((w, i) => {
        const text = cellLines(cells[i] ?? '')[h] ?? '';
        return right.has(t.columns[i] ?? '') ? text.padStart(w) : text.padEnd(w);
      });
      out.push(`| ${parts.join(' | ')} |`);
    }
    return out;
  };
  const rule = border(widths);
  const multi = t.rows.some((r) => r.some((c) => c.includes('\n')));
  const lines = [t.title === undefined ? rule : withTitle(rule, terminalSafe(t.title).replace(/\n/g, ' ')), ...line(t.columns), rule];
  t.rows.forEach((r, i) => {
    lines.push(...line(r));
    if (multi && i < t.rows.length - 1) lines.push(rule);
  });
  lines.push(rule);
  return `${lines.join('\n')}\n`;
}

export function renderJson(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

export function renderYaml(value: unknown): string {
  return stringify(value, { lineWidth: 0 });
}

/** Data in the chosen machine format; the table renderer is the caller's, for the table format. */
export function renderData(format: Exclude<OutputFormat, 'table'>, value: unknown): string {
  return format === 'json' ? renderJson(value) : renderYaml(value);
}

/** A tag map as YAML lines ("nofailover: true"), as patronictl prints tags. */
export function tagsText(tags: Readonly<Record<string, unknown>>): string {
  return Object.entries(tags)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join('\n');
}

export function formatMb(bytes: number | null): string {
  if (bytes === null) return 'unknown';
  return String(Math.round(bytes / 1024 / 1024));
}

export function formatDurationMs(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}
