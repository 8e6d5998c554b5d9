// What the PostgreSQL config writer (src/postgres/postgresql-conf.ts) can render, as problems with the key
// that holds them. Shared with validation so a value every node would refuse at its next start is
// refused where it is written instead: PATCH/PUT /config, edit-config, bootstrap.dcs and the
// local file (issue 13).
import { joinPath, type ConfigProblem } from './errors.js';

/** A PostgreSQL parameter name (GUC), including custom ones with a dot (auto_explain.log_min_duration). */
export const PARAM_NAME = /^[A-Za-z_][A-Za-z0-9_.]*$/;

export function paramValueProblem(value: unknown): string | null {
  if (typeof value === 'number' && !Number.isFinite(value)) return 'is not a finite number';
  if (typeof value === 'string' && /[\n\r\0]/.test(value)) return 'contains a line break or NUL, which postgresql.conf cannot hold';
  return null;
}

export function hbaLineProblem(line: string): string | null {
  return /[\n\r\0]/.test(line) ? 'contains a line break or NUL: give each pg_hba entry as its own list item' : null;
}

/** Problems of a parameters mapping at `path` (e.g. bootstrap.dcs.postgresql.parameters). */
export function parameterProblems(params: Readonly<Record<string, unknown>>, path: string): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  for (const [name, value] of Object.entries(params)) {
    if (!PARAM_NAME.test(name)) {
      out.push({ path: joinPath(path, name), message: `is not a valid PostgreSQL parameter name (${JSON.stringify(name.slice(0, 60))})` });
      continue;
    }
    const problem = paramValueProblem(value);
    if (problem !== null) out.push({ path: joinPath(path, name), message: problem });
  }
  return out;
}

export function hbaProblems(lines: readonly string[], path: string): ConfigProblem[] {
  return lines.flatMap((line, i) => {
    const problem = hbaLineProblem(line);
    return problem === null ? [] : [{ path: `${path}[${i}]`, message: problem }];
  });
}

/**
 * pg_ctl hands the data directory to /bin/sh inside double quotes (`exec "postgres" -D "<dir>"`),
 * where `"`, `$`, a backquote and a backslash keep their meaning: such a path would run commands
 * or start PostgreSQL somewhere else. Control characters break the line. Refused at load.
 */
export function shellSafePathProblem(path: string): string | null {
  if ([...path].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f)) return 'contains a control character';
  const bad = /["$`\\']/.exec(path);
  return bad ? `contains ${JSON.stringify(bad[0])}, which pg_ctl would pass through a shell: choose a path without " $ \` \\ '` : null;
}
