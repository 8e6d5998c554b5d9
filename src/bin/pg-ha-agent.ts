#!/usr/bin/env node
// pg-ha-agent: the daemon's entry point. Argument handling lives in config/cli.ts (tested);
// this file only wires the real process to it.
import type { ConfigProblem } from '../config/errors.js';
import { runAgentCli } from '../config/cli.js';
import type { Config } from '../config/types.js';
import { createRootLogger } from '../obs/logger.js';

let agentStarted = false;

async function startAgent(config: Config, warnings: readonly ConfigProblem[]): Promise<number> {
  agentStarted = true;
  const logger = createRootLogger({ level: config.log.level, node: config.name, scope: config.scope });
  for (const w of warnings) logger.warn({ key: w.path, reason: w.message }, 'configuration warning');
  try {
    const { runAgent } = await import('../daemon.js');
    return await runAgent({ config, logger, configFile: config.configFile });
  } catch (err) {
    logger.fatal({ err }, 'agent failed');
    return 1;
  }
}

const code = await runAgentCli(process.argv.slice(2), {
  env: process.env,
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  getuid: () => process.getuid?.(),
  startAgent,
});

// The agent may leave handles (etcd watches, timers) behind: end the process outright. Its log
// lines are written synchronously, so nothing is lost. Other modes let stdout drain first.
if (agentStarted) process.exit(code);
process.exitCode = code;
