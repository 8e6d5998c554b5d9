// An in-process TCP proxy that the fault suite can cut and restore: a network partition between
// two processes without iptables or namespaces (nothing to clean up outside this process, and the
// cut is per link, so "leader cut from etcd but not from its replicas" is one call).
import net from 'node:net';
import { freePort } from '../harness/index.js';

/**
 * blackhole: connections are accepted and nothing is forwarded; open connections stall (reads are
 * paused, so bytes wait in kernel buffers and flow again on restore, as TCP retransmission would
 * deliver them after a partition heals). reset: open connections are reset, new ones reset at once.
 */
export type CutMode = 'blackhole' | 'reset';

interface Pair {
  readonly client: net.Socket;
  readonly upstream: net.Socket;
}

export class TcpProxy {
  private server: net.Server | null = null;
  private readonly pairs = new Set<Pair>();
  /** Connections accepted while blackholed: held open, never forwarded, dropped on restore. */
  private readonly held = new Set<net.Socket>();
  private mode: CutMode | null = null;
  private lastTrafficMs = 0;

  private constructor(readonly name: string, readonly port: number, private targetPort: number) {}

  static async start(name: string, targetPort: number): Promise<TcpProxy> {
    const proxy = new TcpProxy(name, await freePort(), targetPort);
    await proxy.listen();
    return proxy;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  get target(): number {
    return this.targetPort;
  }

  isCut(): boolean {
    return this.mode !== null;
  }

  /** Forwarded connections currently open. */
  openConnections(): number {
    return this.pairs.size;
  }

  /** performance.now() of the last forwarded byte (0 if none). */
  lastTrafficAt(): number {
    return this.lastTrafficMs;
  }

  cut(mode: CutMode = 'blackhole'): void {
    this.mode = mode;
    for (const p of this.pairs) {
      if (mode === 'reset') {
        this.resetPair(p);
      } else {
        p.client.pause();
        p.upstream.pause();
      }
    }
  }

  restore(): void {
    this.mode = null;
    for (const p of this.pairs) {
      p.client.resume();
      p.upstream.resume();
    }
    // A connection accepted during the cut saw no answer: close it, its client reconnects.
    for (const s of this.held) s.destroy();
    this.held.clear();
  }

  /** Resets every open connection now (a one-off: new connections are forwarded as usual). */
  resetAll(): void {
    for (const p of this.pairs) this.resetPair(p);
  }

  async close(): Promise<void> {
    this.resetAll();
    for (const s of this.held) s.destroy();
    this.held.clear();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server = null;
  }

  private listen(): Promise<void> {
    this.server = net.createServer((socket) => this.accept(socket));
    this.server.on('error', () => undefined);
    return new Promise((resolve, reject) => {
      this.server?.once('error', reject);
      this.server?.listen(this.port, '127.0.0.1', () => resolve());
    });
  }

  private accept(client: net.Socket): void {
    client.on('error', () => undefined);
    if (this.mode === 'reset') {
      client.resetAndDestroy();
      return;
    }
    if (this.mode === 'blackhole') {
      client.pause();
      this.held.add(client);
      client.on('close', () => this.held.delete(client));
      return;
    }
    const upstream = net.connect(this.targetPort, '127.0.0.1');
    upstream.on('error', () => undefined);
    const pair: Pair = { client, upstream };
    this.pairs.add(pair);
    this.forward(client, upstream);
    this.forward(upstream, client);
    const drop = (): void => {
      if (!this.pairs.delete(pair)) return;
      client.destroy();
      upstream.destroy();
    };
    client.on('close', drop);
    upstream.on('close', drop);
  }

  /** Manual forwarding (not pipe) so a cut can pause reads without unpiping. */
  private forward(from: net.Socket, to: net.Socket): void {
    from.on('data', (chunk: Buffer) => {
      this.lastTrafficMs = performance.now();
      if (!to.write(chunk)) {
        from.pause();
        to.once('drain', () => {
          if (this.mode === null) from.resume();
        });
      }
    });
    from.on('end', () => to.end());
  }

  private resetPair(p: Pair): void {
    this.pairs.delete(p);
    p.client.resetAndDestroy();
    p.upstream.resetAndDestroy();
  }
}
