// What a SIGHUP or POST /reload may change in the running agent. Only the sections the agent reads
// afresh take the new file's values: the REST API's access settings, the tags and the callbacks
// (read on every request, tick or event), and bootstrap (read only when a cluster is bootstrapped).
// Everything else was built into the running parts at start-up (the etcd client and the member
// name, the PostgreSQL adapter that renders postgresql.conf, the logger): taking a new value into
// the config there would split the agent in two. A new `name` alone made the leader see its own key
// as another member's and step down. Those keys keep their running values, and the reload names
// them: a restart of the agent applies them (in place, `agentctl restart-agent`, without downtime).
import type { Config } from './types.js';

export interface ReloadPlan {
  /** The config to run with from now on. */
  readonly config: Config;
  /** Dotted paths whose new values were not applied, each needing an agent restart. */
  readonly needRestart: readonly string[];
}

export function planReload(running: Config, next: Config): ReloadPlan {
  const config: Config = {
    ...running,
    restapi: { ...next.restapi, listen: running.restapi.listen },
    tags: next.tags,
    bootstrap: next.bootstrap,
    postgresql: { ...running.postgresql, callbacks: next.postgresql.callbacks },
  };
  return { config, needRestart: changedPaths(config, next, '') };
}

type Plain = Readonly<Record<string, unknown>>;
const isPlain = (v: unknown): v is Plain => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Leaf paths where a and b differ (arrays compare whole). */
function changedPaths(a: unknown, b: unknown, prefix: string): string[] {
  if (isPlain(a) && isPlain(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    return keys.flatMap((k) => changedPaths(a[k], b[k], prefix === '' ? k : `${prefix}.${k}`));
  }
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [prefix];
}
