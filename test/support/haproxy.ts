// A real HAProxy in front of a test cluster, configured from the shipped config/haproxy.cfg: the
// file is read and only what must differ on a test machine is rewritten (bind addresses, server
// lines and their check ports, optionally the check timing), so the checks that ship are the
// checks that are tested. HAProxy runs in the foreground (-db) and logs to stderr (its log file).
import { readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  StopWaiting, freePort, makeTempDir, requireKnownBinary, spawnTracked, waitFor, type TrackedProcess,
} from '../harness/index.js';

export const SHIPPED_HAPROXY_CFG = resolve(dirname(fileURLToPath(import.meta.url)), '../../config/haproxy.cfg');

/** The `listen` sections of the shipped file and what each is for. */
export type HaproxySection = 'writer' | 'readers' | 'stats';
const SECTIONS: readonly HaproxySection[] = ['writer', 'readers', 'stats'];

export interface HaproxyBackend {
  /** Server name in HAProxy (the node name). */
  readonly name: string;
  readonly pgPort: number;
  readonly apiPort: number;
}

/** Overrides of the `default-server` check timing; absent fields keep the shipped values. */
export interface HaproxyCheckTiming {
  readonly inter?: string;
  readonly fall?: number;
  readonly rise?: number;
}

export interface RenderOptions {
  readonly ports: Readonly<Record<HaproxySection, number>>;
  readonly backends: readonly HaproxyBackend[];
  readonly check?: HaproxyCheckTiming;
}

/**
 * The shipped config with loopback binds on the test's ports and one server line per backend,
 * built from the section's first server line (its options kept, `port` set to the backend's REST
 * port). Throws when the file no longer has the shape the test relies on.
 */
export function renderHaproxyConfig(source: string, opts: RenderOptions): string {
  if (opts.backends.length === 0) throw new Error('renderHaproxyConfig: no backends');
  const out: string[] = [];
  const seen = new Set<HaproxySection>();
  const withServers = new Set<HaproxySection>();
  let section: HaproxySection | null = null;
  let serversDone = false;
  for (const line of source.split('\n')) {
    const header = /^(global|defaults|listen|frontend|backend)\b\s*(\S*)/.exec(line);
    if (header) {
      if (header[1] === 'frontend' || header[1] === 'backend') {
        throw new Error(`haproxy.cfg: unexpected section '${line.trim()}'; test/support/haproxy.ts only knows listen ${SECTIONS.join(', ')}`);
      }
      section = header[1] === 'listen' ? asSection(header[2] ?? '') : null;
      if (section) seen.add(section);
      serversDone = false;
      out.push(line);
      continue;
    }
    const words = line.trim().split(/\s+/);
    if (section && words[0] === 'bind') out.push(`    bind 127.0.0.1:${opts.ports[section]}`);
    else if (section && words[0] === 'default-server') out.push(`    ${withTiming(words, opts.check ?? {})}`);
    else if (section && words[0] === 'server') {
      // Every shipped server line is replaced by the backends, modelled on the first one.
      if (!serversDone) out.push(...opts.backends.map((b) => `    ${serverLine(words, b, section as HaproxySection)}`));
      serversDone = true;
      withServers.add(section);
    } else out.push(line);
  }
  for (const s of SECTIONS) if (!seen.has(s)) throw new Error(`haproxy.cfg: no 'listen ${s}' section`);
  for (const s of ['writer', 'readers'] as const) {
    if (!withServers.has(s)) throw new Error(`haproxy.cfg: 'listen ${s}' has no server lines`);
  }
  return out.join('\n');
}

function asSection(name: string): HaproxySection {
  const s = SECTIONS.find((x) => x === name);
  if (!s) throw new Error(`haproxy.cfg: unexpected section 'listen ${name}'; test/support/haproxy.ts only knows ${SECTIONS.join(', ')}`);
  return s;
}

function serverLine(words: readonly string[], b: HaproxyBackend, section: HaproxySection): string {
  // server <name> <addr:port> <options...>
  const options = words.slice(3);
  const portAt = options.indexOf('port');
  if (!options.includes('check') || portAt < 0 || options[portAt + 1] === undefined) {
    throw new Error(`haproxy.cfg: the server lines of 'listen ${section}' must say 'check port <REST port>', got '${words.join(' ')}'`);
  }
  const rendered = [...options];
  rendered[portAt + 1] = String(b.apiPort);
  return ['server', b.name, `127.0.0.1:${b.pgPort}`, ...rendered].join(' ');
}

function withTiming(words: readonly string[], t: HaproxyCheckTiming): string {
  const out = [...words];
  const set = (key: string, value: string | number | undefined): void => {
    if (value === undefined) return;
    const at = out.indexOf(key);
    if (at < 0) out.push(key, String(value));
    else out[at + 1] = String(value);
  };
  set('inter', t.inter);
  set('fall', t.fall);
  set('rise', t.rise);
  return out.join(' ');
}

/** A server's state as HAProxy's stats CSV reports it: 'UP', 'DOWN', 'UP 1/2', 'no check', ... */
export type ServerStates = Record<'writer' | 'readers', Record<string, string>>;

export class Haproxy {
  constructor(
    readonly proc: TrackedProcess,
    readonly configPath: string,
    readonly ports: Readonly<Record<HaproxySection, number>>,
  ) {}

  get writerPort(): number { return this.ports.writer; }
  get readerPort(): number { return this.ports.readers; }

  /** Server states per proxy, from the stats page's CSV export. */
  async serverStates(): Promise<ServerStates> {
    const res = await fetch(`http://127.0.0.1:${this.ports.stats}/;csv`, { signal: AbortSignal.timeout(2000) });
    const lines = (await res.text()).split('\n').filter((l) => l.trim() !== '');
    const header = (lines.shift() ?? '').replace(/^#\s*/, '').split(',');
    const [px, sv, st] = ['pxname', 'svname', 'status'].map((c) => header.indexOf(c));
    if (px === undefined || sv === undefined || st === undefined || px < 0 || sv < 0 || st < 0) {
      throw new Error(`unexpected HAProxy stats CSV header: ${header.join(',')}`);
    }
    const states: ServerStates = { writer: {}, readers: {} };
    for (const l of lines) {
      const f = l.split(',');
      const proxy = f[px];
      const server = f[sv] ?? '';
      if ((proxy === 'writer' || proxy === 'readers') && server !== 'FRONTEND' && server !== 'BACKEND') {
        states[proxy][server] = f[st] ?? '';
      }
    }
    return states;
  }

  /** Waits until exactly `up` are UP in `proxy` (every other server DOWN). */
  async waitServersUp(proxy: 'writer' | 'readers', up: readonly string[], timeoutMs = 30_000): Promise<void> {
    const want = [...up].sort().join(',');
    await waitFor(`HAProxy ${proxy}: exactly [${want}] UP`, async () => {
      this.throwIfExited();
      const s = (await this.serverStates())[proxy];
      const isUp = Object.keys(s).filter((n) => s[n] === 'UP').sort().join(',');
      const allSettled = Object.values(s).every((v) => v === 'UP' || v === 'DOWN');
      return isUp === want && allSettled ? true : null;
    }, { timeoutMs, intervalMs: 100 });
  }

  throwIfExited(): void {
    const exit = this.proc.exitInfo();
    if (exit) throw new StopWaiting(`haproxy exited (${JSON.stringify(exit)}): ${this.proc.output(4000)}`);
  }

  async stop(): Promise<void> {
    await this.proc.stop();
  }

  output(maxBytes = 8000): string {
    return this.proc.output(maxBytes);
  }
}

export interface StartHaproxyOptions {
  readonly backends: readonly HaproxyBackend[];
  /** Check timing for the test (default: the shipped values). */
  readonly check?: HaproxyCheckTiming;
  /** The config to adapt (default the shipped config/haproxy.cfg). */
  readonly source?: string;
}

/** Renders the config into a temp dir, starts `haproxy -f <cfg> -db` and waits until it listens. */
export async function startHaproxy(opts: StartHaproxyOptions): Promise<Haproxy> {
  const bin = requireKnownBinary('haproxy');
  const ports = { writer: await freePort(), readers: await freePort(), stats: await freePort() };
  const source = readFileSync(opts.source ?? SHIPPED_HAPROXY_CFG, 'utf8');
  const dir = await makeTempDir('haproxy');
  const configPath = join(dir, 'haproxy.cfg');
  writeFileSync(configPath, renderHaproxyConfig(source, { ports, backends: opts.backends, ...(opts.check ? { check: opts.check } : {}) }));
  const proc = spawnTracked([bin, '-f', configPath, '-db'], { name: 'haproxy', stopTimeoutMs: 5_000 });
  const h = new Haproxy(proc, configPath, ports);
  await waitFor('haproxy listening on its writer, readers and stats ports', async () => {
    h.throwIfExited();
    const ok = await Promise.all(Object.values(ports).map(canConnect));
    return ok.every(Boolean) ? true : null;
  }, { timeoutMs: 15_000, intervalMs: 50 });
  return h;
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.setTimeout(1000);
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
    s.once('timeout', () => { s.destroy(); resolve(false); });
  });
}
