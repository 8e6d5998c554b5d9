// npm run bench [-- <scenario>...] [--systems=pg-ha-agent,patroni] [--out=<file>]
// Runs the benchmark scenarios (SPEC section 10) one after the other, each against pg-ha-agent
// and, where it is installed, against Patroni on the same machine, and prints one JSON document
// on stdout (progress goes to stderr; `npm run -s bench` keeps npm's banner out of stdout).
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { runTeardown } from '../test/harness/index.js';
import { REPO_ROOT } from '../test/support/agent-cluster.js';
import { agentRestart } from './agent-restart.js';
import { idleResources } from './idle-resources.js';
import { PATRONI_BIN, patroniInstalled } from './patroni.js';
import { restLatency } from './rest-latency.js';
import { syncMode } from './sync-mode.js';
import type { Scenario, ScenarioFactory, SystemName } from './scenario.js';
import { BENCH_CLUSTER } from './systems.js';

/** Every scenario, in the order they run. */
const SCENARIOS: Readonly<Record<string, ScenarioFactory>> = {
  'rest-latency': (system) => restLatency(system),
  'idle-resources': (system) => idleResources(system),
  'agent-restart': (system) => agentRestart(system),
  'sync-mode': (system) => syncMode(system),
};

const SYSTEMS: readonly SystemName[] = ['pg-ha-agent', 'patroni'];

interface Args { scenarios: string[]; systems: SystemName[]; out: string | null }

class UsageError extends Error {}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { scenarios: [], systems: [], out: null };
  for (const a of argv) {
    if (a.startsWith('--systems=')) {
      for (const s of a.slice('--systems='.length).split(',')) {
        const sys = SYSTEMS.find((x) => x === s);
        if (!sys) throw new UsageError(`unknown system '${s}'; known: ${SYSTEMS.join(', ')}`);
        args.systems.push(sys);
      }
    } else if (a.startsWith('--out=')) args.out = a.slice('--out='.length);
    else if (a.startsWith('-')) throw new UsageError(`unknown option '${a}'`);
    else if (!(a in SCENARIOS)) throw new UsageError(`unknown scenario '${a}'; known: ${Object.keys(SCENARIOS).join(', ')}`);
    else args.scenarios.push(a);
  }
  if (args.scenarios.length === 0) args.scenarios = Object.keys(SCENARIOS);
  if (args.systems.length === 0) args.systems = patroniInstalled() ? [...SYSTEMS] : ['pg-ha-agent'];
  if (args.systems.includes('patroni') && !patroniInstalled()) {
    throw new UsageError(`${PATRONI_BIN} is missing; install it with: apt-get install -y patroni`);
  }
  return args;
}

type Outcome = { figures: Record<string, number>; durationSec: number; meetsTargets?: Record<string, boolean> } | { error: string; durationSec: number };

async function runOne(s: Scenario): Promise<Outcome> {
  const t0 = performance.now();
  const took = (): number => Math.round((performance.now() - t0) / 100) / 10;
  process.stderr.write(`bench: ${s.name} on ${s.system} ...\n`);
  try {
    const figures = await s.run();
    const meetsTargets = s.targets && s.system === 'pg-ha-agent'
      ? Object.fromEntries(Object.entries(s.targets).map(([k, max]) => [k, (figures[k] ?? Number.NaN) <= max]))
      : undefined;
    process.stderr.write(`bench: ${s.name} on ${s.system}: ${JSON.stringify(figures)}\n`);
    return { figures, durationSec: took(), ...(meetsTargets ? { meetsTargets } : {}) };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`bench: ${s.name} on ${s.system} failed: ${message}\n`);
    return { error: message, durationSec: took() };
  } finally {
    // Nothing one scenario started may run in the background of the next one.
    await runTeardown().catch((err: unknown) => process.stderr.write(`bench: teardown: ${String(err)}\n`));
  }
}

function versions(systems: readonly SystemName[]): Record<string, string> {
  const pkg = JSON.parse(readFileSync(`${REPO_ROOT}/package.json`, 'utf8')) as { version: string };
  const v: Record<string, string> = { 'pg-ha-agent': pkg.version, node: process.version };
  if (systems.includes('patroni')) v['patroni'] = execFileSync(PATRONI_BIN, ['--version'], { encoding: 'utf8' }).trim().replace(/^patroni\s+/, '');
  return v;
}

async function main(): Promise<number> {
  let args: Args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`bench: ${err.message}\n`);
    return 2;
  }
  process.once('SIGINT', () => void runTeardown().finally(() => process.exit(130)));
  const startedAt = new Date().toISOString();
  const loadStart = os.loadavg()[0] ?? 0;
  const results: Record<string, Record<string, Outcome>> = {};
  for (const name of args.scenarios) {
    const factory = SCENARIOS[name] as ScenarioFactory;
    results[name] = {};
    for (const system of args.systems) (results[name] as Record<string, Outcome>)[system] = await runOne(factory(system));
  }
  const doc = {
    startedAt,
    machine: { cpus: os.cpus().length, loadAvg1mStart: loadStart, loadAvg1mEnd: os.loadavg()[0] ?? 0 },
    versions: versions(args.systems),
    cluster: BENCH_CLUSTER,
    results,
  };
  const json = JSON.stringify(doc, null, 2);
  process.stdout.write(`${json}\n`);
  if (args.out) writeFileSync(args.out, `${json}\n`);
  const failed = Object.values(results).some((bySystem) => Object.values(bySystem).some((o) => 'error' in o));
  return failed ? 1 : 0;
}

process.exitCode = await main();
