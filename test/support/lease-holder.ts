// A tiny agent stand-in for the lease-kill test: takes the leader key through the etcd Dcs,
// registers its member, prints "ready", then renews every --interval ms and prints one JSON line
// per successful renewal with the wall-clock time the keepalive was sent.
//   node --import tsx test/support/lease-holder.ts <endpoints,...> <scope> <name> <ttlSec> <intervalMs>
import { memberStatus } from './member-status.js';
import { etcdDcs } from './dcs-env.js';

function emit(event: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(event)}\n`);
}

async function main(): Promise<void> {
  const [endpoints, scope, name, ttl, interval] = process.argv.slice(2);
  if (endpoints === undefined || scope === undefined || name === undefined || ttl === undefined || interval === undefined) {
    throw new Error('usage: lease-holder <endpoints> <scope> <name> <ttlSec> <intervalMs>');
  }
  const dcs = etcdDcs({ endpoints: endpoints.split(','), scope, name, ttlSec: Number(ttl) });
  await dcs.touchMember(memberStatus(name, { role: 'primary' }));
  if (!(await dcs.acquireLeader())) throw new Error('lease-holder: could not acquire the leader key');
  emit({ event: 'ready', leaseId: dcs.lease().leaseId, pid: process.pid });
  for (;;) {
    const sendWallMs = Date.now();
    try {
      const ok = await dcs.renewLeader();
      await dcs.touchMember(memberStatus(name, { role: 'primary' }));
      emit({ event: ok ? 'renewed' : 'lost', sendWallMs });
    } catch (err) {
      emit({ event: 'error', message: (err as Error).message });
    }
    await new Promise((r) => setTimeout(r, Number(interval)));
  }
}

main().catch((err: unknown) => {
  emit({ event: 'fatal', message: (err as Error).message });
  process.exit(1);
});
