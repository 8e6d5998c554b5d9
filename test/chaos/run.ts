// npm run chaos [-- --rounds N] [--faults a,b] [--out file.json]
// Runs every fault (or the named ones) N rounds each against one reused cluster, prints one line
// per round and a table per fault on stderr/stdout, and writes every round's result as JSON.
import { writeFileSync } from 'node:fs';
import { runTeardown } from '../harness/index.js';
import { FAULTS, faultByName, type Fault } from './faults.js';
import { roundLine, summarize, table } from './report.js';
import { ChaosRunner, type RoundResult } from './round.js';

interface Args { rounds: number; faults: Fault[]; out: string }

class UsageError extends Error {}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { rounds: 1, faults: [...FAULTS], out: `chaos-${new Date().toISOString().replace(/[:.]/g, '-')}.json` };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const [flag, inline] = a.includes('=') ? a.split('=', 2) as [string, string] : [a, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined || v === '') throw new UsageError(`${flag} needs a value`);
      return v;
    };
    if (flag === '--rounds') {
      const n = Number(value());
      if (!Number.isInteger(n) || n < 1) throw new UsageError(`--rounds must be a positive integer, got '${a}'`);
      args.rounds = n;
    } else if (flag === '--faults') {
      try {
        args.faults = value().split(',').map((s) => faultByName(s.trim()));
      } catch (err) {
        throw new UsageError((err as Error).message);
      }
    } else if (flag === '--out') {
      args.out = value();
    } else if (flag === '--list') {
      throw new UsageError(FAULTS.map((f) => `${f.name}: ${f.what}`).join('\n'));
    } else {
      throw new UsageError(`unknown option '${a}'; usage: npm run chaos -- [--rounds N] [--faults a,b] [--out file.json] [--list]`);
    }
  }
  return args;
}

async function main(): Promise<number> {
  let args: Args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`${err.message}\n`);
    return 2;
  }
  process.once('SIGINT', () => void runTeardown().finally(() => process.exit(130)));
  const runner = new ChaosRunner();
  const results: RoundResult[] = [];
  const startedAt = new Date().toISOString();
  const save = (): void => writeFileSync(args.out, `${JSON.stringify({ startedAt, rounds: args.rounds, summary: summarize(results), results }, null, 2)}\n`);
  try {
    for (const fault of args.faults) {
      for (let round = 1; round <= args.rounds; round++) {
        const r = await runner.round(fault, round);
        results.push(r);
        process.stderr.write(`chaos: ${roundLine(r)}\n`);
        save();
      }
    }
  } finally {
    await runner.teardown();
    await runTeardown().catch((err: unknown) => process.stderr.write(`chaos: teardown: ${String(err)}\n`));
  }
  process.stdout.write(`${table(summarize(results))}\n`);
  process.stderr.write(`chaos: results in ${args.out}\n`);
  return 0;
}

const code = await main();
// Exit explicitly: a leftover timer in a client library (seen after the teardown) must not keep
// a finished run alive.
process.stdout.write('', () => process.exit(code));
