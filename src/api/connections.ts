// Slow and idle clients (issue 13). Node's HTTP server keeps a socket that never finishes its
// request for as long as the client likes, and accepts connections until the process runs out of
// descriptors, which etcd and PostgreSQL need too. The timeouts bound how long any socket may
// dawdle; the connection cap bounds how many there are. At the cap a new connection is not refused
// (that would let idle sockets lock HAProxy's health checks out): the oldest socket with no request
// in flight is closed instead, so an established admin request is never cut and a fresh check gets in.
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';

export interface ConnectionLimits {
  /** Time to receive a request's headers, also the first one of a new connection. */
  readonly headersTimeoutMs: number;
  /** Time to receive a whole request (headers and body); handlers may take longer. */
  readonly requestTimeoutMs: number;
  /** How long an idle keep-alive connection stays open between requests. */
  readonly keepAliveTimeoutMs: number;
  /** Open connections at most; past it the oldest idle one is closed. */
  readonly maxConnections: number;
}

export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  maxConnections: 256,
};

/** How often Node checks the headers and request timeouts (its default, 30 s, would stretch them). */
export function checkingIntervalMs(limits: ConnectionLimits): number {
  return Math.max(100, Math.min(1_000, Math.floor(limits.headersTimeoutMs / 2)));
}

/** The TCP socket under a TLS one (the server side keeps it as _parent), or the socket itself. */
function rawSocket(socket: Socket): Socket {
  return (socket as Socket & { _parent?: Socket })._parent ?? socket;
}

export interface ConnectionGuard {
  /** Open connections now (for tests and metrics). */
  readonly open: () => number;
  /** Connections closed to make room so far. */
  readonly evicted: () => number;
}

export function guardConnections(server: Server, limits: ConnectionLimits, log: Logger): ConnectionGuard {
  server.headersTimeout = limits.headersTimeoutMs;
  server.requestTimeout = limits.requestTimeoutMs;
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  // Insertion order is age order: the first idle entry is the oldest idle socket.
  const sockets = new Set<Socket>();
  const busy = new Map<Socket, number>();
  let evicted = 0;
  let lastWarnMs = 0;
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => {
      sockets.delete(socket);
      busy.delete(socket);
    });
    if (sockets.size <= limits.maxConnections) return;
    let victim: Socket = socket;
    for (const s of sockets) {
      if (s !== socket && !busy.has(s)) {
        victim = s;
        break;
      }
    }
    evicted++;
    sockets.delete(victim);
    victim.destroy();
    const now = Date.now();
    // One line per 10 s at most: a flood must not turn into a flood of log lines.
    if (now - lastWarnMs >= 10_000) {
      lastWarnMs = now;
      log.warn({ maxConnections: limits.maxConnections, evictedTotal: evicted, closedNew: victim === socket },
        'rest api connection limit reached; closing the oldest idle connection');
    }
  });
  server.on('request', (req, res) => {
    const s = rawSocket(req.socket);
    busy.set(s, (busy.get(s) ?? 0) + 1);
    res.once('close', () => {
      const n = (busy.get(s) ?? 1) - 1;
      if (n <= 0) busy.delete(s);
      else busy.set(s, n);
    });
  });
  return { open: () => sockets.size, evicted: () => evicted };
}
