// Asks the installed server binary what it is and which parameters it knows, once per bin_dir:
// the facts adaptToServer() needs to write only what this server version accepts.
import type { Logger } from 'pino';
import type { Config } from '../config/types.js';
import type { Runner } from '../exec/runner.js';
import { PG_ENV, binPath } from './paths.js';
import { parseDescribeConfig, parseMajorVersion } from './server-params.js';
import type { ServerFacts } from './server-params.js';

const cache = new Map<string, Promise<ServerFacts | null>>();

/** null when the binary cannot tell its version (then parameters are written as configured). */
export function serverFacts(config: Config, runner: Runner, logger: Logger): Promise<ServerFacts | null> {
  const bin = binPath(config, 'postgres');
  let facts = cache.get(bin);
  if (!facts) {
    facts = askServer(bin, runner, logger);
    cache.set(bin, facts);
    // A failure is not cached: the next write asks again.
    void facts.then((f) => f === null && cache.delete(bin));
  }
  return facts;
}

async function askServer(bin: string, runner: Runner, logger: Logger): Promise<ServerFacts | null> {
  try {
    const version = await runner.run(bin, ['--version'], { timeoutMs: 30_000, env: PG_ENV, logLevel: 'debug' });
    const majorVersion = version.exitCode === 0 ? parseMajorVersion(version.stdout) : null;
    if (majorVersion === null) {
      logger.warn({ bin, stderr: version.stderr.trim() }, 'could not read the PostgreSQL version; parameters are written as configured');
      return null;
    }
    const describe = await runner.run(bin, ['--describe-config'], { timeoutMs: 30_000, env: PG_ENV, logLevel: 'debug' });
    const known = describe.exitCode === 0 ? parseDescribeConfig(describe.stdout) : null;
    if (known === null || known.size === 0) {
      logger.warn({ bin, stderr: describe.stderr.trim() }, 'could not list the parameters PostgreSQL knows; only version renames apply');
    }
    return { majorVersion, knownParameters: known && known.size > 0 ? known : null };
  } catch (err) {
    logger.warn({ bin, err }, 'could not ask PostgreSQL for its version; parameters are written as configured');
    return null;
  }
}
