// The observer: one batch of queries -> a typed LocalPg. PostgreSQL being down is data; a
// postmaster that runs but does not answer within the deadline is 'unresponsive', never awaited.
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config/types.js';
import type { ControlData, LocalPg } from '../core/local-pg.js';
import type { Runner } from '../exec/runner.js';
import { controldataArgs } from './argv.js';
import { parseControlData } from './controldata.js';
import { asError } from '../errors.js';
import { dataDirState, fileExists, isErrno, runningPostmasterPid } from './files.js';
import { OBSERVE_SQL, controlFromRow, runningFields } from './observe-query.js';
import type { ObserveRow } from './observe-query.js';
import { PG_ENV, pgPaths, requireBinary } from './paths.js';
import { SqlError, createSqlConnection, localTarget } from './sql.js';

export interface PgObserver {
  observe(signal?: AbortSignal): Promise<LocalPg>;
  close(): Promise<void>;
}

export interface PgObserverOptions {
  readonly config: Config;
  readonly logger: Logger;
  readonly runner: Runner;
  /** Bound on the observation query (and on pg_controldata). */
  readonly timeoutMs: number;
}

/** pg_controldata, re-run only when pg_control changed (the down path runs every tick). */
export function createControlDataReader(opts: PgObserverOptions): (signal?: AbortSignal) => Promise<ControlData | null> {
  const paths = pgPaths(opts.config);
  const pgControl = join(paths.dataDir, 'global', 'pg_control');
  let cache: { key: string; data: ControlData } | null = null;
  return async (signal) => {
    let key: string;
    try {
      const st = await stat(pgControl);
      key = `${st.mtimeMs}:${st.size}:${st.ino}`;
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return null;
      throw err;
    }
    if (cache?.key === key) return cache.data;
    const bin = await requireBinary(opts.config, 'pg_controldata');
    const res = await opts.runner.run(bin, controldataArgs(paths.dataDir), {
      timeoutMs: opts.timeoutMs,
      env: PG_ENV,
      logLevel: 'debug',
      ...(signal ? { signal } : {}),
    });
    if (res.exitCode !== 0) {
      opts.logger.warn({ exitCode: res.exitCode, stderr: res.stderr.slice(-500) }, 'pg_controldata failed');
      return null;
    }
    try {
      const data = parseControlData(res.stdout);
      cache = { key, data };
      return data;
    } catch (err) {
      opts.logger.warn({ err: asError(err) }, 'pg_controldata output not understood');
      return null;
    }
  };
}

export function createPgObserver(opts: PgObserverOptions): PgObserver {
  const paths = pgPaths(opts.config);
  const log = opts.logger;
  const conn = createSqlConnection({
    target: localTarget(opts.config),
    logger: log,
    timeoutMs: opts.timeoutMs,
    applicationName: 'pg-ha-agent observer',
  });
  const readControl = createControlDataReader(opts);
  const streamed: StreamedTimeline = { last: null };

  return {
    async observe(signal) {
      const state = await dataDirState(paths.dataDir);
      if (state !== 'initialized') {
        return { kind: 'down', dataDir: 'empty', control: null, standbySignal: false };
      }
      let row: ObserveRow | undefined;
      try {
        [row] = await conn.query<ObserveRow>(OBSERVE_SQL, [], signal ? { signal } : {});
      } catch (err) {
        if (!(err instanceof SqlError) || err.kind === 'aborted') throw err;
        return offline(paths, readControl, signal, err);
      }
      if (!row) throw new Error('observation query returned no row');
      return {
        kind: 'running',
        dataDir: 'initialized',
        control: controlFromRow(row),
        standbySignal: await fileExists(paths.standbySignal),
        pid: runningPostmasterPid(paths.postmasterPid),
        ...withStreamedTimeline(streamed, row, runningFields(row)),
      };
    },
    close: () => conn.close(),
  };
}

// The highest timeline the WAL receiver reported since this postmaster started. pg_control's
// timeline lags on a replica until its next restartpoint, so without this a replica whose
// receiver just stopped (its leader shut down for a switchover) reports the timeline it had
// before the last promotion, and the forked-timeline check wrongly rules it out.
interface StreamedTimeline {
  last: { start: string; tli: number } | null;
}

function withStreamedTimeline(
  streamed: StreamedTimeline, row: ObserveRow, fields: ReturnType<typeof runningFields>,
): ReturnType<typeof runningFields> {
  if (!row.in_recovery) return fields;
  if (streamed.last?.start !== row.postmaster_start_time) streamed.last = { start: row.postmaster_start_time, tli: 0 };
  streamed.last.tli = Math.max(streamed.last.tli, row.wal_receiver?.received_tli ?? 0);
  return streamed.last.tli > fields.timeline ? { ...fields, timeline: streamed.last.tli } : fields;
}

async function offline(
  paths: ReturnType<typeof pgPaths>, readControl: ReturnType<typeof createControlDataReader>, signal: AbortSignal | undefined, err: SqlError,
): Promise<LocalPg> {
  const standbySignal = await fileExists(paths.standbySignal);
  const pid = runningPostmasterPid(paths.postmasterPid);
  const control = await readControl(signal);
  if (pid === null) return { kind: 'down', dataDir: 'initialized', control, standbySignal };
  return { kind: 'unresponsive', dataDir: 'initialized', control, standbySignal, pid, detail: err.message };
}
