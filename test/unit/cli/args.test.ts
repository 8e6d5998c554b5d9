import { describe, expect, it } from 'vitest';
import { parseCtlArgs } from '../../../src/cli/args.js';

describe('agentctl argument parsing', () => {
  it('takes global options before or after the command', () => {
    const a = parseCtlArgs(['-c', 'n1.yml', 'list', '-f', 'json']);
    expect(a).toMatchObject({ kind: 'command', command: 'list', globals: { configFile: 'n1.yml', format: 'json', debug: false } });
    const b = parseCtlArgs(['list', '--config=n1.yml', '--debug', '-e']);
    expect(b).toMatchObject({ kind: 'command', command: 'list', globals: { configFile: 'n1.yml', format: 'table', debug: true }, values: { extended: true } });
  });

  it('parses switchover options and accepts patronictl spellings', () => {
    const a = parseCtlArgs(['--config-file', 'x.yml', 'switchover', '--primary', 'a', '--candidate', 'b', '--scheduled', '+30s', '--force']);
    expect(a).toMatchObject({ kind: 'command', command: 'switchover', globals: { configFile: 'x.yml' },
      values: { leader: 'a', candidate: 'b', scheduled: '+30s', force: true } });
  });

  it('collects repeated --set and --pg for edit-config', () => {
    const a = parseCtlArgs(['edit-config', '-s', 'ttl=20', '--set', 'loop_wait=5', '-p', 'work_mem=8MB']);
    expect(a).toMatchObject({ kind: 'command', values: { set: ['ttl=20', 'loop_wait=5'], pg: ['work_mem=8MB'] } });
  });

  it('gives members as positionals to restart and reload', () => {
    expect(parseCtlArgs(['restart', 'b', 'c', '--pending'])).toMatchObject({ kind: 'command', positionals: ['b', 'c'], values: { pending: true } });
    expect(parseCtlArgs(['reload'])).toMatchObject({ kind: 'command', positionals: [] });
  });

  it.each([
    [[], 'no command given'],
    [['frobnicate'], 'unknown command "frobnicate"'],
    [['list', '--candidate', 'x'], "Unknown option '--candidate'"],
    [['failover'], 'failover needs --candidate <member>'],
    [['list', '-f', 'xml'], '--format must be table, json or yaml, got "xml"'],
    [['reinit'], 'reinit needs exactly one member name'],
    [['reinit', 'a', 'b'], 'reinit needs exactly one member name'],
    [['remove'], 'remove needs the cluster name (scope) to confirm'],
    [['list', 'x', 'y'], 'list takes at most one argument (the cluster name), got x y'],
    [['switchover', '--candidate'], "Option '--candidate <value>' argument missing"],
  ])('usage error for %j', (argv, message) => {
    const r = parseCtlArgs(argv);
    expect(r.kind).toBe('usage-error');
    expect(r.kind === 'usage-error' && r.message).toContain(message);
  });

  it('answers --help and --version before anything else', () => {
    expect(parseCtlArgs(['--help'])).toEqual({ kind: 'help' });
    expect(parseCtlArgs(['switchover', '-h'])).toEqual({ kind: 'help', command: 'switchover' });
    expect(parseCtlArgs(['-V'])).toEqual({ kind: 'version' });
  });
});
