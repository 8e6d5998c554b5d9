// agentctl's command line: global options anywhere, one command, the command's own options.
// Pure: argv in, a tagged command (or a usage error) out.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { OutputFormat } from './context.js';

type OptionSpec = NonNullable<ParseArgsConfig['options']>;

const GLOBAL: OptionSpec = {
  config: { type: 'string', short: 'c' },
  format: { type: 'string', short: 'f' },
  debug: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'V' },
};

/** Each command: its options and what its positional arguments are. */
const COMMANDS = {
  list: { options: { extended: { type: 'boolean', short: 'e' } }, positionals: 'scope' },
  topology: { options: {}, positionals: 'scope' },
  switchover: {
    options: {
      leader: { type: 'string' }, candidate: { type: 'string' }, scheduled: { type: 'string' },
      force: { type: 'boolean' }, wait: { type: 'boolean' }, cancel: { type: 'boolean' },
    },
    positionals: 'scope',
  },
  failover: { options: { candidate: { type: 'string' }, force: { type: 'boolean' } }, positionals: 'scope' },
  pause: { options: { wait: { type: 'boolean' } }, positionals: 'scope' },
  resume: { options: { wait: { type: 'boolean' } }, positionals: 'scope' },
  restart: {
    options: {
      pending: { type: 'boolean' }, role: { type: 'string' }, scheduled: { type: 'string' },
      'pg-version': { type: 'string' }, timeout: { type: 'string' }, force: { type: 'boolean' },
    },
    positionals: 'members',
  },
  reinit: { options: { force: { type: 'boolean' }, 'from-leader': { type: 'boolean' }, wait: { type: 'boolean' } }, positionals: 'one-member' },
  reload: { options: { force: { type: 'boolean' } }, positionals: 'members' },
  'restart-agent': { options: { all: { type: 'boolean' }, force: { type: 'boolean' }, timeout: { type: 'string' } }, positionals: 'members' },
  history: { options: {}, positionals: 'scope' },
  'show-config': { options: {}, positionals: 'scope' },
  'edit-config': {
    options: {
      set: { type: 'string', short: 's', multiple: true }, pg: { type: 'string', short: 'p', multiple: true },
      apply: { type: 'string' }, replace: { type: 'string' }, force: { type: 'boolean' },
    },
    positionals: 'scope',
  },
  remove: { options: { force: { type: 'boolean' } }, positionals: 'one-scope' },
} as const satisfies Record<string, { options: OptionSpec; positionals: string }>;

export type CommandName = keyof typeof COMMANDS;
export const COMMAND_NAMES = Object.keys(COMMANDS) as CommandName[];

export interface Globals {
  readonly configFile?: string;
  readonly format: OutputFormat;
  readonly debug: boolean;
}

export type Values = Readonly<Record<string, string | boolean | string[] | undefined>>;

export type ParsedArgs =
  | { readonly kind: 'help'; readonly command?: CommandName }
  | { readonly kind: 'version' }
  | { readonly kind: 'usage-error'; readonly message: string; readonly command?: CommandName }
  | { readonly kind: 'command'; readonly command: CommandName; readonly globals: Globals; readonly values: Values; readonly positionals: readonly string[] };

/** Patroni/patronictl spellings accepted as well. */
const ALIASES: Readonly<Record<string, string>> = {
  '--config-file': '--config', '--primary': '--leader', '--master': '--leader', '--member': '--candidate',
};

function normalize(argv: readonly string[]): string[] {
  return argv.map((a) => {
    const eq = a.indexOf('=');
    const flag = a.startsWith('--') && eq > 0 ? a.slice(0, eq) : a;
    const alias = ALIASES[flag];
    return alias === undefined ? a : alias + a.slice(flag.length);
  });
}

/** Index of the command word: the first argument that is neither an option nor a global option's value. */
function commandIndex(argv: readonly string[]): number {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') return i + 1 < argv.length ? i + 1 : -1;
    if (a === '-c' || a === '--config' || a === '-f' || a === '--format') {
      i++;
      continue;
    }
    if (!a.startsWith('-') || a === '-') return i;
  }
  return -1;
}

function format(value: unknown): OutputFormat | string {
  if (value === undefined) return 'table';
  const v = String(value).toLowerCase();
  if (v === 'table' || v === 'pretty') return 'table';
  if (v === 'json') return 'json';
  if (v === 'yaml' || v === 'yml') return 'yaml';
  return `--format must be table, json or yaml, got "${String(value)}"`;
}

function checkPositionals(command: CommandName, positionals: readonly string[]): string | null {
  const kind = COMMANDS[command].positionals;
  switch (kind) {
    case 'scope':
      return positionals.length > 1 ? `${command} takes at most one argument (the cluster name), got ${positionals.join(' ')}` : null;
    case 'members':
      return null;
    case 'one-member':
      return positionals.length === 1 ? null : `${command} needs exactly one member name`;
    case 'one-scope':
      return positionals.length === 1 ? null : `${command} needs the cluster name (scope) to confirm`;
    default: {
      const never: never = kind;
      return never;
    }
  }
}

export function parseCtlArgs(rawArgv: readonly string[]): ParsedArgs {
  const argv = normalize(rawArgv);
  const at = commandIndex(argv);
  const word = at < 0 ? undefined : argv[at];
  const command = word !== undefined && Object.hasOwn(COMMANDS, word) ? (word as CommandName) : undefined;
  const rest = at < 0 ? argv : [...argv.slice(0, at), ...argv.slice(at + 1)];
  const options: OptionSpec = { ...GLOBAL, ...(command ? COMMANDS[command].options : {}) };
  let parsed: { values: Values; positionals: string[] };
  try {
    parsed = parseArgs({ args: rest, options, allowPositionals: true, strict: true }) as { values: Values; positionals: string[] };
  } catch (err) {
    const msg = (err as Error).message.replace(/\. To specify a positional argument.*$/s, '');
    return { kind: 'usage-error', message: msg, ...(command ? { command } : {}) };
  }
  const { values, positionals } = parsed;
  if (values['help'] === true) return command ? { kind: 'help', command } : { kind: 'help' };
  if (values['version'] === true) return { kind: 'version' };
  if (word === undefined) return { kind: 'usage-error', message: 'no command given' };
  if (command === undefined) return { kind: 'usage-error', message: `unknown command "${word}"` };
  const fmt = format(values['format']);
  if (fmt !== 'table' && fmt !== 'json' && fmt !== 'yaml') return { kind: 'usage-error', message: fmt, command };
  const problem = checkPositionals(command, positionals);
  if (problem) return { kind: 'usage-error', message: problem, command };
  if (command === 'failover' && typeof values['candidate'] !== 'string') {
    return { kind: 'usage-error', message: 'failover needs --candidate <member>', command };
  }
  const configFile = typeof values['config'] === 'string' ? values['config'] : undefined;
  const globals: Globals = { format: fmt, debug: values['debug'] === true, ...(configFile !== undefined ? { configFile } : {}) };
  return { kind: 'command', command, globals, values, positionals };
}

export const str = (v: Values, k: string): string | undefined => (typeof v[k] === 'string' ? (v[k] as string) : undefined);
export const flag = (v: Values, k: string): boolean => v[k] === true;
export const list = (v: Values, k: string): string[] => (Array.isArray(v[k]) ? (v[k] as string[]) : []);
