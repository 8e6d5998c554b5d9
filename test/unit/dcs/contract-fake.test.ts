// The shared Dcs contract against the in-memory fake (the same suite runs against real etcd in
// test/integration/dcs-contract.test.ts).
import { createFakeDcs } from '../../support/fakes/fake-dcs.js';
import { FakeClock } from '../../support/fakes/fake-clock.js';
import { FakeEtcdStore } from '../../support/fakes/fake-store.js';
import type { Dcs } from '../../../src/dcs/port.js';
import { CONTRACT_TTL_SEC, dcsContract, type ContractEnv } from '../../contract/dcs-contract.js';

dcsContract('in-memory fake', async (): Promise<ContractEnv> => {
  const clock = new FakeClock();
  const store = new FakeEtcdStore(clock);
  const made: Dcs[] = [];
  let clusters = 0;
  return {
    cluster() {
      clusters += 1;
      const scope = `contract${clusters}`;
      return {
        scope,
        node(name, opts) {
          const dcs = createFakeDcs({ scope, name, ttlSec: opts?.ttlSec ?? CONTRACT_TTL_SEC, clock, store });
          made.push(dcs);
          return dcs;
        },
        async putRaw(relative, value) {
          await store.backendFor('raw-writer').txn([], [{ op: 'put', key: `/service/${scope}/${relative}`, value }], []);
        },
      };
    },
    monoMs: () => clock.monoMs(),
    async eventually(what, fn, { withinMs }) {
      for (let waited = 0; ; waited += 100) {
        if (await fn()) return;
        if (waited >= withinMs) throw new Error(`timed out after ${withinMs} ms of fake time waiting for ${what}`);
        clock.advance(100);
      }
    },
    async close() {
      await Promise.all(made.map((d) => d.close()));
    },
  };
});
