// Helpers for tests that run the etcd Dcs against the harness's real etcd.
import { Etcd3 } from 'etcd3';
import { pino, type Logger } from 'pino';
import type { Etcd3Config } from '../../src/config/types.js';
import type { EtcdTimeouts } from '../../src/dcs/etcd-client.js';
import { createEtcdDcs, type EtcdDcs } from '../../src/dcs/etcd-dcs.js';
import { systemClock } from '../../src/time/clock.js';

/** Silent unless TEST_LOG=debug|info|... is set. */
export function testLogger(): Logger {
  return pino({ level: process.env['TEST_LOG'] ?? 'silent' });
}

/** ['127.0.0.1:port', ...] (EtcdCluster.endpoints) -> etcd3 config section. */
export function etcd3Config(endpoints: readonly string[]): Etcd3Config {
  return {
    protocol: 'http',
    hosts: endpoints.map((e) => {
      const [host, port] = e.split(':');
      return { host: host ?? '127.0.0.1', port: Number(port) };
    }),
  };
}

export interface EtcdDcsForTest {
  endpoints: readonly string[];
  scope: string;
  name: string;
  ttlSec: number;
  retryTimeoutSec?: number;
  timeouts?: EtcdTimeouts;
  logger?: Logger;
}

export function etcdDcs(o: EtcdDcsForTest): EtcdDcs {
  return createEtcdDcs({
    config: { etcd3: etcd3Config(o.endpoints), namespace: '/service/', scope: o.scope, name: o.name },
    ttlSec: o.ttlSec,
    retryTimeoutSec: o.retryTimeoutSec ?? 4,
    clock: systemClock,
    logger: o.logger ?? testLogger(),
    ...(o.timeouts === undefined ? {} : { timeouts: o.timeouts }),
  });
}

/** A plain etcd3 client for raw reads/writes the Dcs must not do itself. */
export function rawEtcd(endpoints: readonly string[]): Etcd3 {
  return new Etcd3({ hosts: endpoints.map((e) => `http://${e}`) });
}
