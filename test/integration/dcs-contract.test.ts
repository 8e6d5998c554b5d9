// The shared Dcs contract against real etcd (one member from the harness).
import { startEtcd, waitFor } from '../harness/index.js';
import type { Dcs } from '../../src/dcs/port.js';
import { systemClock } from '../../src/time/clock.js';
import { CONTRACT_TTL_SEC, dcsContract, type ContractEnv } from '../contract/dcs-contract.js';
import { etcdDcs, rawEtcd } from '../support/dcs-env.js';

dcsContract('real etcd', async (): Promise<ContractEnv> => {
  const etcd = await startEtcd();
  const raw = rawEtcd(etcd.endpoints);
  const made: Dcs[] = [];
  let clusters = 0;
  return {
    cluster() {
      clusters += 1;
      const scope = `contract${clusters}-${process.pid}`;
      return {
        scope,
        node(name, opts) {
          const dcs = etcdDcs({ endpoints: etcd.endpoints, scope, name, ttlSec: opts?.ttlSec ?? CONTRACT_TTL_SEC });
          made.push(dcs);
          return dcs;
        },
        async putRaw(relative, value) {
          await raw.put(`/service/${scope}/${relative}`).value(value);
        },
      };
    },
    monoMs: () => systemClock.monoMs(),
    async eventually(what, fn, { withinMs }) {
      await waitFor(what, async () => (await fn()) || undefined, { timeoutMs: withinMs, intervalMs: 100 });
    },
    async close() {
      await Promise.all(made.map((d) => d.close()));
      raw.close();
      await etcd.close();
    },
  };
});
