// npm run sim -- --seeds 1-1000 [--steps 10000] [--stop] [--verbose] [--broken <name>] [--promote-first] [--fault-set 1..6]:
// runs seeds of the simulator over the real loop and prints one line per failing seed (with its
// first violation) and a summary. --broken runs a broken decide() of broken.ts, --promote-first the
// broken promotion order, to find seeds whose checks catch them.
import { BROKEN } from './broken.js';
import { FAULT_SETS, LATEST_FAULT_SET, type FaultSet } from './faults.js';
import { formatFailure, runSimulation } from './index.js';

function parseSeeds(spec: string): number[] {
  const out: number[] = [];
  for (const part of spec.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) throw new Error(`--seeds wants a list of n or a-b ranges, got ${JSON.stringify(spec)}`);
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    for (let s = lo; s <= hi; s++) out.push(s);
  }
  return out;
}

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}

async function main(): Promise<number> {
  const seeds = parseSeeds(arg('seeds', '1-30'));
  const steps = Number(arg('steps', '10000'));
  const verbose = process.argv.includes('--verbose');
  const broken = arg('broken', '');
  const decide = broken === '' ? undefined : BROKEN[broken];
  if (broken !== '' && decide === undefined) throw new Error(`--broken wants one of ${Object.keys(BROKEN).join(', ')}`);
  const historyFirst = !process.argv.includes('--promote-first');
  const faultSet = Number(arg('fault-set', String(LATEST_FAULT_SET)));
  if (!FAULT_SETS.includes(faultSet as FaultSet)) throw new Error(`--fault-set wants one of ${FAULT_SETS.join(', ')}, got ${faultSet}`);
  const t0 = performance.now();
  const failed: number[] = [];
  for (const seed of seeds) {
    const t = performance.now();
    const r = await runSimulation({ seed, steps, historyFirst, faultSet: faultSet as FaultSet, ...(decide ? { decide } : {}) });
    const ms = Math.round(performance.now() - t);
    if (r.violations.length > 0) {
      failed.push(seed);
      console.log(verbose ? formatFailure(r) : `seed ${seed}: FAIL (${ms} ms) ${r.violations[0] ?? ''}`);
      if (process.argv.includes('--stop')) break;
    } else if (verbose || seeds.length <= 30) {
      console.log(`seed ${seed}: ok (${ms} ms, ${r.nodes} nodes, ${r.stats.promotions} promotions, ${r.stats.faults} faults, ${r.stats.fences} fences, ${r.stats.switchovers} switchovers)`);
    }
  }
  const s = ((performance.now() - t0) / 1000).toFixed(1);
  console.log(`${seeds.length} seeds x ${steps} steps in ${s} s: ${failed.length} failed${failed.length ? ` (${failed.join(' ')})` : ''}`);
  return failed.length === 0 ? 0 : 1;
}

process.exitCode = await main();
