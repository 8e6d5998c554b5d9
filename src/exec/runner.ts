// The Runner port: every external command the agent runs (pg_ctl, initdb, pg_basebackup, ...) goes
// through it, with a timeout, an AbortSignal and one log line at start and one at the end.
import { execa } from 'execa';
import type { Logger } from 'pino';
import { AgentError } from '../errors.js';

export interface RunOptions {
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
  /** Added to the agent's own environment. */
  readonly env?: Readonly<Record<string, string>>;
  readonly cwd?: string;
  /** Written to stdin, which is then closed. stdin is empty (closed) when absent. */
  readonly input?: string;
  /** Level of the start and end lines; observation commands run every tick and use 'debug'. */
  readonly logLevel?: 'debug' | 'info';
}

export interface RunResult {
  /** null when the command was killed by a signal (see `signal`), e.g. after a timeout. */
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly durationMs: number;
  readonly timedOut: boolean;
}

export interface Runner {
  run(cmd: string, args: readonly string[], opts?: RunOptions): Promise<RunResult>;
}

export type RunnerErrorCode = 'spawn-failed' | 'aborted';

/** The command could not be run at all, or the caller aborted it. A non-zero exit is a result, not an error. */
export class RunnerError extends AgentError<RunnerErrorCode> {
  readonly command: string;
  constructor(code: RunnerErrorCode, command: string, message: string, cause?: unknown) {
    super(code, message, { cause, retryable: code === 'aborted' });
    this.command = command;
  }
}

export interface ExecaRunnerOptions {
  readonly logger: Logger;
  /**
   * OS user that owns the data directory. Only used when this process runs as root (tests):
   * commands are then wrapped in `runuser -u <user> --`. The agent itself never runs as root.
   */
  readonly runAsUser?: string;
  /** Grace between SIGTERM at timeout/abort and SIGKILL. */
  readonly killGraceMs?: number;
}

const SECRET_ARG = /(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)/gi;

/** Hide anything that looks like a password in an argument before it is logged. */
export function redactArg(arg: string): string {
  return arg.replace(SECRET_ARG, '$1********');
}

export function wrapForUser(
  cmd: string,
  args: readonly string[],
  runAsUser: string | undefined,
  uid: number | null,
): [string, string[]] {
  if (runAsUser === undefined || uid !== 0) return [cmd, [...args]];
  return ['runuser', ['-u', runAsUser, '--', cmd, ...args]];
}

function execaOptions(file: string, runOpts: RunOptions, killGraceMs: number | undefined) {
  return {
    reject: false,
    timeout: runOpts.timeoutMs ?? 0,
    ...(runOpts.signal ? { cancelSignal: runOpts.signal } : {}),
    env: { ...runOpts.env },
    extendEnv: true,
    // A user-switched command cannot always read our cwd (e.g. /root); '/' always works.
    cwd: runOpts.cwd ?? (file === 'runuser' ? '/' : process.cwd()),
    ...(runOpts.input !== undefined ? { input: runOpts.input } : { stdin: 'ignore' as const }),
    forceKillAfterDelay: killGraceMs ?? 2000,
    stripFinalNewline: true,
    encoding: 'utf8' as const,
  };
}

export function createExecaRunner(opts: ExecaRunnerOptions): Runner {
  const uid = typeof process.getuid === 'function' ? process.getuid() : null;
  const log = opts.logger;
  return {
    async run(cmd, args, runOpts = {}) {
      if (runOpts.signal?.aborted) {
        throw new RunnerError('aborted', cmd, `command aborted before start: ${cmd}`, runOpts.signal.reason);
      }
      const [file, argv] = wrapForUser(cmd, args, opts.runAsUser, uid);
      const level = runOpts.logLevel ?? 'info';
      const fields = { cmd, args: args.map(redactArg) };
      log[level](fields, 'command started');
      const res = await execa(file, argv, execaOptions(file, runOpts, opts.killGraceMs));
      const stdout = typeof res.stdout === 'string' ? res.stdout : '';
      const stderr = typeof res.stderr === 'string' ? res.stderr : '';
      if (res.isCanceled) {
        log[level]({ cmd, durationMs: Math.round(res.durationMs) }, 'command aborted');
        throw new RunnerError('aborted', cmd, `command aborted: ${cmd}`, runOpts.signal?.reason);
      }
      if (res.failed && res.exitCode === undefined && res.signal === undefined && !res.timedOut) {
        log.error({ cmd, err: res.shortMessage ?? res.message }, 'command could not be started');
        throw new RunnerError('spawn-failed', cmd, `could not run ${cmd}: ${res.code ?? res.shortMessage ?? 'unknown error'}`, res.cause);
      }
      if (stdout) log.debug({ cmd, stdout }, 'command stdout');
      if (stderr) log.debug({ cmd, stderr }, 'command stderr');
      const result: RunResult = {
        exitCode: res.exitCode ?? null,
        signal: res.signal ?? null,
        stdout,
        stderr,
        durationMs: Math.round(res.durationMs),
        timedOut: res.timedOut,
      };
      log[result.exitCode === 0 ? level : 'warn'](
        { cmd, exitCode: result.exitCode, signal: result.signal, timedOut: result.timedOut, durationMs: result.durationMs },
        'command finished',
      );
      return result;
    },
  };
}
