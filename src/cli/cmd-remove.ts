// remove <scope>: delete every key of the cluster in etcd (the data directories are untouched).
// The scope is given on the command line and typed again when asked; a cluster that still has a
// leader also needs the leader's name typed, because its agents are running and will notice.
import { dcsFailure, readCluster } from './cluster.js';
import type { CtlContext } from './context.js';
import { EXIT_OK, usage } from './errors.js';
import { confirmTyped } from './prompt.js';

export async function runRemove(ctx: CtlContext, opts: { scope: string; force: boolean }): Promise<number> {
  const scope = ctx.config.scope;
  if (opts.scope !== scope) {
    throw usage(`"${opts.scope}" is not the scope of ${ctx.config.configFile} (it is "${scope}")`,
      'remove only acts on the cluster of the config file; give its scope to confirm');
  }
  const cluster = await readCluster(ctx);
  const prefix = `${ctx.config.namespace}${scope}/`;
  if (!opts.force) {
    ctx.io.err(`This removes every key under ${prefix} in etcd (${cluster.members.length} member keys, config, history).\n`);
    await confirmTyped(ctx, `Type the name of the cluster (${scope}) to confirm: `, scope);
    const leader = cluster.leader?.name;
    if (leader) {
      ctx.io.err(`The cluster has a leader (${leader}): its agents are running and react at once (the leader loses its key and stops writing).\n`);
      await confirmTyped(ctx, `Type the leader's name (${leader}) to remove the keys anyway: `, leader);
    }
  }
  try {
    await ctx.dcs.removeCluster(AbortSignal.timeout(10_000));
  } catch (err) {
    throw dcsFailure(ctx, err, 'removing the cluster keys');
  }
  ctx.io.out(`Removed every key under ${prefix}\n`);
  return EXIT_OK;
}
