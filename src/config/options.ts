// initdb/basebackup option lists: Patroni accepts "- data-checksums" (a switch) and
// "- encoding: UTF8" (a single-key map); basebackup also takes a plain mapping.
import type { BuildCtx } from './build-ctx.js';
import { isPlainObject } from './walk.js';

export type OptionList = (string | Readonly<Record<string, string>>)[];

function scalarText(v: unknown): string | undefined {
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined;
}

function checkName(ctx: BuildCtx, path: string, name: string, forbidden: readonly string[]): boolean {
  if (!forbidden.includes(name)) return true;
  ctx.sink.problem(path, `option "${name}" is set by the agent and must not be given`);
  return false;
}

export function optionList(ctx: BuildCtx, value: unknown, path: string, opts: { allowMap: boolean; forbidden: readonly string[] }): OptionList {
  if (value === undefined || value === null) return [];
  if (isPlainObject(value) && opts.allowMap) {
    return optionList(ctx, Object.entries(value).map(([k, v]) => ({ [k]: v })), path, opts);
  }
  if (!Array.isArray(value)) {
    ctx.sink.problem(path, `expected a list of options (e.g. "- data-checksums" or "- encoding: UTF8")${opts.allowMap ? ' or a mapping' : ''}`);
    return [];
  }
  const out: OptionList = [];
  value.forEach((item, i) => {
    const itemPath = `${path}[${i}]`;
    if (typeof item === 'string' && item.trim() !== '') {
      if (checkName(ctx, itemPath, item, opts.forbidden)) out.push(item);
      return;
    }
    const entries = isPlainObject(item) ? Object.entries(item) : [];
    const [name, raw] = entries[0] ?? [];
    const text = scalarText(raw);
    if (entries.length !== 1 || name === undefined || text === undefined) {
      ctx.sink.problem(itemPath, 'expected an option name or a single-key mapping such as "encoding: UTF8"');
      return;
    }
    if (checkName(ctx, itemPath, name, opts.forbidden)) out.push({ [name]: text });
  });
  return out;
}
