// A member status for tests (no vitest import: child processes use it too).
import type { MemberStatus } from '../../src/core/cluster.js';

export function memberStatus(name: string, over: Partial<MemberStatus> = {}): MemberStatus {
  return {
    name, connUrl: 'postgres://127.0.0.1:5432/postgres', apiUrl: 'http://127.0.0.1:8008/patroni',
    state: 'running', role: 'replica', tags: {}, agent: 'pg-ha-agent/test', ...over,
  };
}
