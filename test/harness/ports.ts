// Free TCP ports on 127.0.0.1, unique within the test run (across files and worker processes:
// each port handed out is claimed by creating <run>/ports/<port> exclusively; per process when
// there is no run directory, as in the unit project).
//
// Why not just bind to port 0: the kernel picks port-0 ports from the ephemeral range, the same
// range it uses for the source port of outgoing connections, so between freePort() and the moment
// etcd or PostgreSQL binds, any outgoing connection can take the port. We therefore pick random
// ports below the ephemeral range, prove each one free by binding it, and fall back to port 0
// only if that range is too small.
import { closeSync, openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { RUN_DIR_ENV, runSubdir } from './run-dir.js';

const LOW_PORT = 20_000;
const MAX_ATTEMPTS = 500;

export async function freePort(): Promise<number> {
  const ephemeralLow = ephemeralRangeStart();
  const span = ephemeralLow - LOW_PORT;
  for (let i = 0; i < MAX_ATTEMPTS; i += 1) {
    const candidate = span >= 1_000 ? LOW_PORT + Math.floor(Math.random() * span) : 0;
    const port = await tryBind(candidate);
    if (port === null) continue;
    if (claim(port)) return port;
  }
  throw new Error(`freePort: no free port on 127.0.0.1 after ${MAX_ATTEMPTS} attempts`);
}

/** Binds 127.0.0.1:port (0 = kernel's choice) and releases it; null when it is in use. */
function tryBind(port: number): Promise<number | null> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(null));
    server.listen({ host: '127.0.0.1', port, exclusive: true }, () => {
      const addr = server.address();
      const bound = typeof addr === 'object' && addr !== null ? addr.port : null;
      server.close(() => resolve(bound));
    });
  });
}

const CLAIMED = Symbol.for('pg-ha-agent.harness.claimedPorts');
type Global = typeof globalThis & { [CLAIMED]?: Set<number> };

function claim(port: number): boolean {
  const g = globalThis as Global;
  g[CLAIMED] ??= new Set();
  if (g[CLAIMED].has(port)) return false;
  g[CLAIMED].add(port);
  // Without a run directory (unit tests) uniqueness is per process, which is all they need.
  if (process.env[RUN_DIR_ENV] === undefined) return true;
  try {
    closeSync(openSync(join(runSubdir('ports'), String(port)), 'wx'));
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
}

function ephemeralRangeStart(): number {
  try {
    const [low] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/);
    const n = Number(low);
    return Number.isInteger(n) && n > 0 ? n : 32_768;
  } catch {
    return 32_768;
  }
}
