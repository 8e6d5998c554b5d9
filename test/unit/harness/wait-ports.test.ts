import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { freePort } from '../../harness/ports.js';
import { StopWaiting, waitFor } from '../../harness/wait.js';

describe('waitFor', () => {
  it('returns the first value that is not undefined, null or false (0 counts)', async () => {
    let n = 0;
    const got = await waitFor('n to reach 3', () => {
      n += 1;
      return n >= 3 ? n - 3 : false;
    }, { intervalMs: 1 });
    expect(got).toBe(0);
    expect(n).toBe(3);
  });

  it('times out with the condition and the last error in the message', async () => {
    await expect(waitFor('the moon', () => {
      throw new Error('not yet risen');
    }, { timeoutMs: 150, intervalMs: 10 })).rejects.toThrow(/timed out after 150ms waiting for the moon.*last error: not yet risen/);
  });

  it('does not let one hung attempt overrun the deadline', async () => {
    const t0 = performance.now();
    await expect(waitFor('a hung promise', () => new Promise<boolean>(() => undefined), { timeoutMs: 200 }))
      .rejects.toThrow(/timed out after 200ms/);
    expect(performance.now() - t0).toBeLessThan(5_000);
  });

  it('stops at once on StopWaiting', async () => {
    let calls = 0;
    await expect(waitFor('x', () => {
      calls += 1;
      throw new StopWaiting('process exited');
    }, { timeoutMs: 10_000 })).rejects.toThrow('process exited');
    expect(calls).toBe(1);
  });

  it('rejects a nonsensical timeout', async () => {
    await expect(waitFor('x', () => true, { timeoutMs: 0 })).rejects.toThrow(/timeoutMs must be > 0/);
  });
});

describe('freePort', () => {
  it('hands out distinct, bindable loopback ports below the ephemeral range', async () => {
    const ports = await Promise.all(Array.from({ length: 20 }, () => freePort()));
    expect(new Set(ports).size).toBe(20);
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    for (const p of ports) {
      expect(p).toBeGreaterThan(1024);
      expect(p).toBeLessThan(low);
    }
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: '127.0.0.1', port: ports[0], exclusive: true }, resolve);
    });
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
});
