// Composition root (placeholder until the agent loop lands): the only place that starts things.
import type { Logger } from 'pino';
import type { Config } from './config/types.js';

export interface RunAgentOptions {
  readonly config: Config;
  readonly logger: Logger;
  readonly configFile: string;
}

export async function runAgent(opts: RunAgentOptions): Promise<number> {
  opts.logger.fatal('the agent loop is not built yet');
  return 1;
}
