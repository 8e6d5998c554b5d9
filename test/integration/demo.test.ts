// The README's first command: npm run demo starts a whole cluster, shows it, and on Ctrl-C stops
// everything it started and removes its directory.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { spawnTracked, waitFor } from '../harness/index.js';
import { REPO_ROOT } from '../support/agent-cluster.js';

describe('npm run demo', () => {
  it('brings up one primary and two streaming replicas, then cleans up on SIGINT', async () => {
    const demo = spawnTracked([process.execPath, join(REPO_ROOT, 'dist/demo/demo.js')], { name: 'demo', stdio: 'pipe', stopSignal: 'SIGINT', stopTimeoutMs: 90_000 });
    const dir = await waitFor('the demo directory', () => /demo directory (\S+)/.exec(demo.output())?.[1] ?? null, { timeoutMs: 30_000 });
    await waitFor('a table with a primary and two running replicas', () => {
      const tables = demo.output().split(/\n\s*\n/);
      const last = tables.filter((t) => t.includes('member')).pop() ?? '';
      const primaries = last.split('\n').filter((l) => /\bprimary\s+running\b/.test(l)).length;
      const replicas = last.split('\n').filter((l) => /\breplica\s+running\b/.test(l)).length;
      return primaries === 1 && replicas === 2 ? true : null;
    }, { timeoutMs: 150_000, intervalMs: 500 });
    expect(existsSync(dir)).toBe(true);
    demo.signal('SIGINT');
    const exit = await demo.waitExit(90_000);
    expect(exit.code).toBe(0);
    expect(demo.output()).toMatch(/done/);
    expect(existsSync(dir)).toBe(false);
  });
});
