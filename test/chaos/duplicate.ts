// The duplicate-name fault's newcomer: the operator mistake of issue 10, a copy of a running
// member's config with only its ports and data dir changed, started as a 4th agent.
import { chownSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parse, stringify } from 'yaml';
import {
  freePort, isRoot, makeEmptyDataDir, postgresUser, spawnTracked, type TrackedProcess,
} from '../harness/index.js';
import { AGENT_BIN, type AgentNode } from '../support/agent-cluster.js';

/** A copy of `node`'s config with only its ports and data dir changed, started as a 4th agent. */
export async function startDuplicate(node: AgentNode): Promise<TrackedProcess> {
  const dataDir = await makeEmptyDataDir(`dup-${node.name}`);
  const baseDir = dirname(dataDir);
  const cfg = parse(readFileSync(node.configPath, 'utf8')) as Record<string, Record<string, unknown>>;
  const api = await freePort();
  const pgPort = await freePort();
  const rest = cfg['restapi'] as Record<string, unknown>;
  rest['listen'] = `127.0.0.1:${api}`;
  rest['connect_address'] = `127.0.0.1:${api}`;
  const pgc = cfg['postgresql'] as Record<string, unknown>;
  pgc['listen'] = `127.0.0.1:${pgPort}`;
  pgc['connect_address'] = `127.0.0.1:${pgPort}`;
  pgc['data_dir'] = dataDir;
  pgc['pgpass'] = join(baseDir, 'pgpass-dup');
  (pgc['parameters'] as Record<string, unknown>)['unix_socket_directories'] = baseDir;
  const configPath = join(baseDir, 'config-dup.yml');
  writeFileSync(configPath, stringify(cfg));
  if (isRoot()) chownSync(configPath, postgresUser().uid, postgresUser().gid);
  return spawnTracked([process.execPath, AGENT_BIN, configPath], { name: `agent-dup-${node.name}`, user: 'postgres', stopTimeoutMs: 30_000 });
}
