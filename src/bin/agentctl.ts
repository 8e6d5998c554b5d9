#!/usr/bin/env node
// agentctl: the operator CLI's entry point. Everything testable lives in src/cli (runAgentctl);
// this file wires the real process to it: stdio, etcd, $EDITOR, the logger for --debug.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import pino from 'pino';
import type { CtlIo } from '../cli/context.js';
import type { CtlConfig } from '../cli/ctl-config.js';
import { terminalSafe } from '../cli/render.js';
import { runAgentctl } from '../cli/run.js';
import { pgProbeFactory } from '../cli/write-probe.js';
import { createEtcdDcs } from '../dcs/etcd-dcs.js';
import { systemClock } from '../time/clock.js';
import { createRootLogger } from '../obs/logger.js';

/** stdin as lines, read lazily: several questions may be asked in one run. */
function lineReader(): { next: () => Promise<string | null>; close: () => void } {
  let rl: Interface | null = null;
  const lines: string[] = [];
  const waiters: ((line: string | null) => void)[] = [];
  let closed = false;
  const open = (): void => {
    if (rl) return;
    rl = createInterface({ input: process.stdin, terminal: false });
    rl.on('line', (line) => {
      const w = waiters.shift();
      if (w) w(line);
      else lines.push(line);
    });
    rl.on('close', () => {
      closed = true;
      for (const w of waiters.splice(0)) w(null);
    });
  };
  return {
    next: () => {
      open();
      const line = lines.shift();
      if (line !== undefined) return Promise.resolve(line);
      if (closed) return Promise.resolve(null);
      return new Promise((resolve) => waiters.push(resolve));
    },
    close: () => rl?.close(),
  };
}

function readAllStdin(): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    process.stdin.on('data', (c: Buffer) => chunks.push(c));
    process.stdin.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    process.stdin.on('error', reject);
  });
}

/** $VISUAL / $EDITOR (default vi) on a temp file; returns what was saved. */
async function editInEditor(text: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'agentctl-'));
  const file = join(dir, 'config.yaml');
  try {
    writeFileSync(file, text, { mode: 0o600 });
    const editor = process.env['VISUAL'] || process.env['EDITOR'] || 'vi';
    const r = spawnSync(`${editor} "${file}"`, { stdio: 'inherit', shell: true });
    if (r.status !== 0) throw new Error(`the editor (${editor}) exited with ${r.status ?? r.signal}`);
    return readFileSync(file, 'utf8');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const debug = process.argv.includes('--debug');
const lines = lineReader();

const io: CtlIo = {
  out: (text) => process.stdout.write(terminalSafe(text)),
  err: (text) => process.stderr.write(terminalSafe(text)),
  ask: async (question) => {
    process.stderr.write(question);
    return lines.next();
  },
  interactive: process.stdin.isTTY === true && process.stdout.isTTY === true,
};

function openDcs(config: CtlConfig, withDebug: boolean) {
  const logger = withDebug
    ? createRootLogger({ level: 'debug', node: 'agentctl', scope: config.scope, destination: pino.destination({ dest: 2, sync: true }) })
    : pino({ enabled: false });
  // name is only used for member and leader keys, which agentctl never writes.
  return createEtcdDcs({
    config: { etcd3: config.etcd3, namespace: config.namespace, scope: config.scope, name: 'agentctl' },
    ttlSec: 30, retryTimeoutSec: 6, clock: systemClock, logger,
  });
}

const code = await runAgentctl(process.argv.slice(2), {
  env: process.env,
  io,
  clock: systemClock,
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  openDcs,
  pgProbe: (config) => (config.superuser ? pgProbeFactory(config.superuser) : undefined),
  edit: editInEditor,
  readStdin: readAllStdin,
});
lines.close();
if (debug) process.stderr.write(`exit code ${code}\n`);
// gRPC channels and sockets may linger after close(): end once the output is flushed.
await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
await new Promise<void>((resolve) => process.stderr.write('', () => resolve()));
process.exit(code);
