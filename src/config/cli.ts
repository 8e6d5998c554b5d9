// pg-ha-agent's command line: argv parsing and the top-level flow, with the process (env,
// output, uid, the agent itself) injected so every exit path is unit-testable.
import { formatProblem, ConfigError, type ConfigProblem } from './errors.js';
import { checkConfig, configFileMode, filePermissionWarning, readConfigFile, type LoadOptions } from './load.js';
import type { Config } from './types.js';
import { packageVersion } from './version.js';

export type AgentCommand =
  | { readonly kind: 'run'; readonly configFile: string }
  | { readonly kind: 'validate'; readonly configFile: string }
  | { readonly kind: 'help' }
  | { readonly kind: 'version' }
  | { readonly kind: 'usage-error'; readonly message: string };

export const AGENT_USAGE = `Usage: pg-ha-agent [--config] <file>
       pg-ha-agent --validate-config <file>
       pg-ha-agent --help | --version

Runs the PostgreSQL high-availability agent of one node (Patroni-compatible YAML config).

Options:
  -c, --config <file>        configuration file; $PGHA_CONFIG when no file is given
      --validate-config      check the configuration and print every problem (exit 2),
                             or "ok" (exit 0); works as root
  -h, --help                 print this help and exit
  -V, --version              print the version and exit

Environment: PGHA_<SECTION>_<KEY> (and Patroni's PATRONI_* names) override keys of the
file, e.g. PGHA_ETCD3_HOSTS, PGHA_POSTGRESQL_DATA_DIR. See docs/configuration.md.
Exit codes: 0 success, 1 the agent failed, 2 usage or configuration error.
`;

export const ROOT_REFUSAL = 'pg-ha-agent must not run as root: run it as the OS user that owns the PostgreSQL data directory (e.g. postgres)';

interface ArgState { file?: string; validate: boolean; flags: Set<string> }

function takeFile(state: ArgState, file: string | undefined, what: string): string | undefined {
  if (file === undefined || file === '') return `${what} needs a file name`;
  if (state.file !== undefined) return `more than one config file given ("${state.file}" and "${file}")`;
  state.file = file;
  return undefined;
}

function step(argv: readonly string[], i: number, state: ArgState): { next: number; error?: string } {
  const arg = argv[i]!;
  const eq = arg.indexOf('=');
  const [flag, inline] = arg.startsWith('--') && eq > 0 ? [arg.slice(0, eq), arg.slice(eq + 1)] : [arg, undefined];
  switch (flag) {
    case '-h': case '--help': state.flags.add('help'); return { next: i + 1 };
    case '-V': case '--version': state.flags.add('version'); return { next: i + 1 };
    case '--validate-config':
      state.validate = true;
      return inline === undefined ? { next: i + 1 } : withError(i + 1, takeFile(state, inline, flag));
    case '-c': case '--config':
      if (inline !== undefined) return withError(i + 1, takeFile(state, inline, flag));
      return withError(i + 2, takeFile(state, argv[i + 1], flag));
    default:
      if (arg.startsWith('-') && arg !== '-') return { next: i + 1, error: `unknown option "${flag}"` };
      return withError(i + 1, takeFile(state, arg, 'the config argument'));
  }
}

function withError(next: number, error: string | undefined): { next: number; error?: string } {
  return error === undefined ? { next } : { next, error };
}

export function parseAgentArgs(argv: readonly string[], env: NodeJS.ProcessEnv = {}): AgentCommand {
  const state: ArgState = { validate: false, flags: new Set() };
  let i = 0;
  while (i < argv.length) {
    if (argv[i] === '--') {
      for (const rest of argv.slice(i + 1)) {
        const error = takeFile(state, rest, 'the config argument');
        if (error !== undefined) return { kind: 'usage-error', message: error };
      }
      break;
    }
    const r = step(argv, i, state);
    if (r.error !== undefined) return { kind: 'usage-error', message: r.error };
    i = r.next;
  }
  if (state.flags.has('help')) return { kind: 'help' };
  if (state.flags.has('version')) return { kind: 'version' };
  const file = state.file ?? (env['PGHA_CONFIG'] === '' ? undefined : env['PGHA_CONFIG']);
  if (file === undefined) return { kind: 'usage-error', message: 'no configuration file given' };
  return state.validate ? { kind: 'validate', configFile: file } : { kind: 'run', configFile: file };
}

export interface CliDeps {
  readonly env: NodeJS.ProcessEnv;
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly getuid: () => number | undefined;
  readonly loadOptions?: LoadOptions;
  /** Starts the agent with a valid config; resolves to the process exit code. */
  readonly startAgent: (config: Config, warnings: readonly ConfigProblem[]) => Promise<number>;
}

async function check(file: string, deps: CliDeps): Promise<{ config?: Config; problems: readonly ConfigProblem[]; warnings: readonly ConfigProblem[]; path: string }> {
  try {
    const { path, text } = await readConfigFile(file);
    const r = checkConfig(text, deps.env, { ...deps.loadOptions, configFile: path });
    if (!r.ok) return { problems: r.problems, warnings: r.warnings, path };
    const mode = await configFileMode(path);
    const perm = mode === null ? null : filePermissionWarning(r.config, mode);
    return { config: r.config, problems: [], warnings: perm ? [...r.warnings, perm] : r.warnings, path };
  } catch (err) {
    if (err instanceof ConfigError) return { problems: err.problems, warnings: [], path: file };
    throw err;
  }
}

async function validate(file: string, deps: CliDeps): Promise<number> {
  const r = await check(file, deps);
  for (const w of r.warnings) deps.stderr(`warning: ${formatProblem(w)}\n`);
  if (r.config === undefined) {
    for (const p of r.problems) deps.stdout(`${formatProblem(p)}\n`);
    return 2;
  }
  deps.stdout('ok\n');
  return 0;
}

async function run(file: string, deps: CliDeps): Promise<number> {
  if (deps.getuid() === 0) {
    deps.stderr(`${ROOT_REFUSAL}\n`);
    return 2;
  }
  const r = await check(file, deps);
  if (r.config === undefined) {
    deps.stderr(`pg-ha-agent: ${new ConfigError(r.problems, r.path).message}\n`);
    return 2;
  }
  return deps.startAgent(r.config, r.warnings);
}

/** The whole command line; resolves to the exit code. */
export async function runAgentCli(argv: readonly string[], deps: CliDeps): Promise<number> {
  const cmd = parseAgentArgs(argv, deps.env);
  switch (cmd.kind) {
    case 'help': deps.stdout(AGENT_USAGE); return 0;
    case 'version': deps.stdout(`pg-ha-agent ${packageVersion()}\n`); return 0;
    case 'usage-error': deps.stderr(`pg-ha-agent: ${cmd.message}\n\n${AGENT_USAGE}`); return 2;
    case 'validate': return validate(cmd.configFile, deps);
    case 'run': return run(cmd.configFile, deps);
    default: {
      const never: never = cmd;
      return never;
    }
  }
}
