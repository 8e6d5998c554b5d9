// agentctl's top level: arguments -> config -> context -> command -> exit code. Every error ends
// here as one or two lines on stderr (the message, then what to do next); a stack trace only
// with --debug.
import { ConfigError } from '../config/errors.js';
import { packageVersion } from '../config/version.js';
import type { Clock } from '../core/clock.js';
import { DcsError } from '../dcs/port.js';
import { flag, list, parseCtlArgs, str, type CommandName, type Globals, type Values } from './args.js';
import { dcsFailure } from './cluster.js';
import { runEditConfig, runHistory, runShowConfig } from './cmd-config.js';
import { runList, runTopology } from './cmd-list.js';
import { runReinit, runReload, runRestart } from './cmd-member.js';
import { runPause } from './cmd-pause.js';
import { runRestartAgent } from './cmd-restart-agent.js';
import { runRemove } from './cmd-remove.js';
import { runFailover, runSwitchover } from './cmd-switchover.js';
import type { ClusterReader, CtlContext, CtlIo } from './context.js';
import { loadCtlConfig, type CtlConfig, type CtlLoadOptions } from './ctl-config.js';
import { CtlError, EXIT_FAILED, EXIT_OK, EXIT_USAGE, exitCodeOf, usage } from './errors.js';
import { createRestClient, type RestClient } from './http.js';
import { CTL_USAGE, commandHelp } from './usage.js';
import type { PgProbeFactory } from './write-probe.js';
import { errorMessage } from '../errors.js';

export interface CtlDeps {
  readonly env: NodeJS.ProcessEnv;
  readonly io: CtlIo;
  readonly clock: Clock;
  readonly sleep: (ms: number) => Promise<void>;
  /** The etcd reader for a config (production: createEtcdDcs, which never grants a lease unasked). */
  readonly openDcs: (config: CtlConfig, debug: boolean) => ClusterReader;
  readonly restClient?: (config: CtlConfig) => RestClient;
  readonly pgProbe?: (config: CtlConfig) => PgProbeFactory | undefined;
  readonly edit?: (text: string) => Promise<string>;
  /** All of stdin (edit-config --apply -). */
  readonly readStdin: () => Promise<string>;
  readonly loadOptions?: CtlLoadOptions;
  readonly timeScale?: number;
}

type Runner = (ctx: CtlContext, v: Values, positionals: readonly string[], deps: CtlDeps) => Promise<number>;

const RUNNERS: Readonly<Record<CommandName, Runner>> = {
  list: (ctx, v) => runList(ctx, { extended: flag(v, 'extended') }),
  topology: (ctx) => runTopology(ctx),
  switchover: (ctx, v) => runSwitchover(ctx, {
    ...optional('leader', str(v, 'leader')), ...optional('candidate', str(v, 'candidate')), ...optional('scheduled', str(v, 'scheduled')),
    force: flag(v, 'force'), wait: flag(v, 'wait'), cancel: flag(v, 'cancel'),
  }),
  failover: (ctx, v) => runFailover(ctx, { candidate: str(v, 'candidate') ?? '', force: flag(v, 'force') }),
  pause: (ctx, v) => runPause(ctx, true, { wait: flag(v, 'wait') }),
  resume: (ctx, v) => runPause(ctx, false, { wait: flag(v, 'wait') }),
  restart: (ctx, v, p) => runRestart(ctx, {
    members: p, pending: flag(v, 'pending'), force: flag(v, 'force'), ...optional('role', str(v, 'role')),
    ...optional('scheduled', str(v, 'scheduled')), ...optional('pgVersion', str(v, 'pg-version')), ...optional('timeout', str(v, 'timeout')),
  }),
  reinit: (ctx, v, p) => runReinit(ctx, { member: p[0] ?? '', force: flag(v, 'force'), fromLeader: flag(v, 'from-leader'), wait: flag(v, 'wait') }),
  reload: (ctx, v, p) => runReload(ctx, { members: p, force: flag(v, 'force') }),
  'restart-agent': (ctx, v, p) => runRestartAgent(ctx, { members: p, all: flag(v, 'all'), force: flag(v, 'force'), ...optional('timeout', str(v, 'timeout')) }),
  history: (ctx) => runHistory(ctx),
  'show-config': (ctx) => runShowConfig(ctx),
  'edit-config': (ctx, v, _p, deps) => runEditConfig(ctx, {
    set: list(v, 'set'), pg: list(v, 'pg'), force: flag(v, 'force'), readStdin: deps.readStdin,
    ...optional('apply', str(v, 'apply')), ...optional('replace', str(v, 'replace')),
  }),
  remove: (ctx, v, p) => runRemove(ctx, { scope: p[0] ?? '', force: flag(v, 'force') }),
};

function optional<K extends string, T>(key: K, value: T | undefined): { [P in K]?: T } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: T };
}

/** Commands whose only positional is an optional cluster name (patronictl habit): it must be ours. */
const SCOPE_ARG: ReadonlySet<CommandName> = new Set(['list', 'topology', 'switchover', 'failover', 'pause', 'resume', 'history', 'show-config', 'edit-config']);

function printError(io: CtlIo, err: CtlError, debug: boolean): void {
  io.err(`agentctl: ${err.message}\n`);
  if (err.hint) io.err(`  ${err.hint}\n`);
  if (debug && err.cause instanceof Error && err.cause.stack) io.err(`${err.cause.stack}\n`);
}

async function execute(command: CommandName, globals: Globals, values: Values, positionals: readonly string[], deps: CtlDeps): Promise<number> {
  const file = globals.configFile ?? (deps.env['PGHA_CONFIG'] || undefined);
  if (file === undefined) throw usage('no configuration file given', 'pass -c <config file> (a node\'s config works) or set PGHA_CONFIG');
  const config = await loadCtlConfig(file, deps.env, deps.loadOptions);
  if (SCOPE_ARG.has(command) && positionals[0] !== undefined && positionals[0] !== config.scope) {
    throw usage(`"${positionals[0]}" is not the cluster of ${config.configFile} (its scope is "${config.scope}")`);
  }
  const dcs = deps.openDcs(config, globals.debug);
  const pgProbe = deps.pgProbe?.(config);
  const ctx: CtlContext = {
    config, dcs, io: deps.io, format: globals.format, clock: deps.clock, sleep: deps.sleep,
    rest: deps.restClient ? deps.restClient(config) : createRestClient(config.rest),
    ...(deps.edit ? { edit: deps.edit } : {}), ...(pgProbe ? { pgProbe } : {}), ...(deps.timeScale !== undefined ? { timeScale: deps.timeScale } : {}),
  };
  try {
    return await RUNNERS[command](ctx, values, positionals, deps);
  } catch (err) {
    if (err instanceof DcsError) throw dcsFailure(ctx, err, `running ${command}`);
    throw err;
  } finally {
    await dcs.close().catch(() => undefined);
  }
}

/** The whole command line; resolves to the exit code. */
export async function runAgentctl(argv: readonly string[], deps: CtlDeps): Promise<number> {
  const parsed = parseCtlArgs(argv);
  const debug = argv.includes('--debug');
  switch (parsed.kind) {
    case 'help':
      deps.io.out(parsed.command ? commandHelp(parsed.command) : CTL_USAGE);
      return EXIT_OK;
    case 'version':
      deps.io.out(`agentctl (pg-ha-agent) ${packageVersion()}\n`);
      return EXIT_OK;
    case 'usage-error':
      deps.io.err(`agentctl: ${parsed.message}\n  see agentctl ${parsed.command ? `${parsed.command} ` : ''}--help\n`);
      return EXIT_USAGE;
    case 'command':
      break;
    default: {
      const never: never = parsed;
      return never;
    }
  }
  try {
    return await execute(parsed.command, parsed.globals, parsed.values, parsed.positionals, deps);
  } catch (err) {
    if (err instanceof CtlError) {
      printError(deps.io, err, debug);
      return exitCodeOf(err.kind);
    }
    if (err instanceof ConfigError) {
      deps.io.err(`agentctl: ${err.message}\n`);
      return EXIT_USAGE;
    }
    deps.io.err(`agentctl: unexpected error: ${errorMessage(err)}\n`);
    if (debug && err instanceof Error && err.stack) deps.io.err(`${err.stack}\n`);
    else deps.io.err('  run again with --debug for details\n');
    return EXIT_FAILED;
  }
}
