// Which jobs leave PostgreSQL writable when they succeed: the fence is armed while they run.
import { describe, expect, it } from 'vitest';
import type { JobSpec } from '../../../src/core/decide-types.js';
import { startsWritable } from '../../../src/loop/jobs.js';

const leader = { name: 'n1', apiUrl: 'http://n1:8008/patroni', connUrl: 'postgres://n1:5432/postgres' } as never;

describe('startsWritable', () => {
  it('is true for a start as primary, a bootstrap and a restart as primary', () => {
    expect(startsWritable({ kind: 'startPrimary' } as JobSpec)).toBe(true);
    expect(startsWritable({ kind: 'bootstrap' } as JobSpec)).toBe(true);
    expect(startsWritable({ kind: 'restart', role: 'primary' } as JobSpec)).toBe(true);
  });
  it('is false for replica jobs and no job', () => {
    expect(startsWritable({ kind: 'restart', role: 'replica', leader } as JobSpec)).toBe(false);
    expect(startsWritable({ kind: 'startReplica', leader } as JobSpec)).toBe(false);
    expect(startsWritable({ kind: 'clone', source: leader } as JobSpec)).toBe(false);
    expect(startsWritable(null)).toBe(false);
  });
});
