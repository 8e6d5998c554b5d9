// ConfigError carries every problem found in one pass, so an operator fixes the file once
// instead of once per restart.
import { AgentError } from '../errors.js';

export interface ConfigProblem {
  /** Key path such as `postgresql.authentication.replication.username`, or an env var name. */
  readonly path: string;
  readonly message: string;
}

/** Safety net: masks "user:secret@" and "password=secret" wherever a message quotes input. */
export function maskCredentials(text: string): string {
  return text
    .replace(/(^|[\s"'/(])([^\s"'/@:]*):([^\s"'@/]+)@/g, '$1$2:*****@')
    .replace(/(password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s'"]+)/gi, '$1*****');
}

export function formatProblem(p: ConfigProblem): string {
  return p.path === '' ? p.message : `${p.path}: ${p.message}`;
}

export class ConfigError extends AgentError<'CONFIG_INVALID'> {
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[], source?: string) {
    const head = source === undefined ? 'invalid configuration' : `invalid configuration in ${source}`;
    const n = problems.length;
    super('CONFIG_INVALID', `${head} (${n} problem${n === 1 ? '' : 's'}):\n${problems.map((p) => `  ${formatProblem(p)}`).join('\n')}`, { retryable: false });
    this.problems = Object.freeze([...problems]);
  }
}

/** Collects problems and warnings while a config is checked; never throws. */
export class ProblemSink {
  readonly problems: ConfigProblem[] = [];
  readonly warnings: ConfigProblem[] = [];
  /** Key path -> environment variable that set it, so problems can say where a value came from. */
  readonly origins = new Map<string, string>();

  problem(path: string, message: string): void {
    const origin = this.originOf(path);
    const masked = maskCredentials(message);
    const text = origin === undefined ? masked : `${masked} (value from ${origin})`;
    if (!this.problems.some((p) => p.path === path && p.message === text)) this.problems.push({ path, message: text });
  }

  private originOf(path: string): string | undefined {
    for (const [key, env] of this.origins) {
      if (path === key || path.startsWith(`${key}.`) || path.startsWith(`${key}[`)) return env;
    }
    return undefined;
  }

  warn(path: string, message: string): void {
    if (!this.warnings.some((p) => p.path === path && p.message === message)) this.warnings.push({ path, message });
  }

  hasProblemAt(pathPrefix: string): boolean {
    return this.problems.some((p) => p.path === pathPrefix || p.path.startsWith(`${pathPrefix}.`) || p.path.startsWith(`${pathPrefix}[`));
  }
}

export function joinPath(prefix: string, key: string | number): string {
  if (typeof key === 'number') return `${prefix}[${key}]`;
  return prefix === '' ? key : `${prefix}.${key}`;
}
