// Run a short-lived command to completion (initdb, pg_ctl, pg_basebackup, etcdctl), optionally as
// postgres, with a timeout and an error that quotes the command's own stderr.
import { execFile } from 'node:child_process';
import { basename } from 'node:path';
import { postgresEnv, postgresSpawnIds } from './users.js';

export interface RunOptions {
  user?: 'postgres';
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

export class CommandError extends Error {
  readonly exitCode: number | null;
  readonly stdout: string;
  readonly stderr: string;
  constructor(message: string, exitCode: number | null, stdout: string, stderr: string) {
    super(message);
    this.name = 'CommandError';
    this.exitCode = exitCode;
    this.stdout = stdout;
    this.stderr = stderr;
  }
}

export function runCommand(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const asPostgres = opts.user === 'postgres';
  const env = asPostgres ? postgresEnv(opts.env ?? process.env) : (opts.env ?? process.env);
  const timeoutMs = opts.timeoutMs ?? 120_000;
  return new Promise((resolve, reject) => {
    execFile(cmd, [...args], {
      env,
      cwd: opts.cwd ?? '/',
      timeout: timeoutMs,
      killSignal: 'SIGKILL',
      maxBuffer: 16 * 1024 * 1024,
      ...(opts.signal === undefined ? {} : { signal: opts.signal }),
      ...(asPostgres ? postgresSpawnIds() : {}),
    }, (err, stdout, stderr) => {
      if (err === null) {
        resolve({ stdout, stderr });
        return;
      }
      const e = err as NodeJS.ErrnoException & { code?: unknown; killed?: boolean };
      const code = typeof e.code === 'number' ? e.code : null;
      const why = e.killed === true ? `killed after ${timeoutMs}ms timeout`
        : code !== null ? `exit code ${code}` : String(e.code ?? e.message);
      reject(new CommandError(`${basename(cmd)} ${args.join(' ')} failed (${why}): ` +
        tail(`${stderr}${stdout}`.trim() || e.message, 2_000), code, stdout, stderr));
    });
  });
}

export function tail(text: string, maxChars: number): string {
  return text.length <= maxChars ? text : `...${text.slice(-maxChars)}`;
}
