// The way out as a decision (issue 11): every exit fences a PostgreSQL that may be writable before
// the key goes or the process ends (SPEC 5.12), pause leaves it running (SPEC 5.8), and a restart in
// place leaves everything to the next run and the fence guard (docs/agent-restart.md).
import { describe, expect, it } from 'vitest';
import { answerAgentRestart, decideShutdown, lastResort, RESTART_IN_PLACE_EXIT_CODE, type ShutdownInput, type ShutdownStep, type ShutdownWhy } from '../../../src/core/shutdown.js';

const base: ShutdownInput = {
  why: { kind: 'signal', exitCode: 0 }, paused: false, pauseFresh: true,
  postmasterAlive: true, postmasterMayBeWritable: true, keyMsLeft: 8_000, joined: true,
};
const kinds = (steps: readonly ShutdownStep[]): string[] => steps.map((s) => s.kind);

const whys: ShutdownWhy[] = [{ kind: 'signal', exitCode: 0 }, { kind: 'halt', exitCode: 1 }, { kind: 'halt', exitCode: 2 }, { kind: 'restartInPlace' }];
const postmasters = [
  { postmasterAlive: false, postmasterMayBeWritable: false },
  { postmasterAlive: true, postmasterMayBeWritable: false },
  { postmasterAlive: true, postmasterMayBeWritable: true },
];
const leases = [null, 0, 900, 1_499, 1_500, 8_000, 120_000];

function grid(): ShutdownInput[] {
  const all: ShutdownInput[] = [];
  for (const why of whys) for (const pm of postmasters) for (const keyMsLeft of leases) {
    for (const paused of [false, true]) for (const pauseFresh of [false, true]) for (const joined of [false, true]) {
      all.push({ why, ...pm, keyMsLeft, paused, pauseFresh, joined });
    }
  }
  return all;
}

describe('decideShutdown: the safety rules over the whole input grid', () => {
  const inputs = grid();

  it('covers the grid (4 causes x 3 postmaster states x 7 leases x pause x freshness x joined)', () => {
    expect(inputs).toHaveLength(4 * 3 * 7 * 8);
  });

  it('stops or fences first whenever postgresql may be writable and the cluster is not paused (every exit but a restart in place)', () => {
    for (const i of inputs.filter((x) => x.why.kind !== 'restartInPlace' && x.postmasterMayBeWritable && !x.paused)) {
      const first = decideShutdown(i).steps[0];
      expect(['stopPostgres', 'fencePostgres'], JSON.stringify(i)).toContain(first?.kind);
    }
  });

  it('never releases the key before postgresql is stopped, and a clean stop always ends inside the proven lease', () => {
    for (const i of inputs) {
      const steps = decideShutdown(i).steps;
      const release = steps.findIndex((s) => s.kind === 'releaseKey');
      const stop = steps.findIndex((s) => s.kind === 'stopPostgres' || s.kind === 'fencePostgres');
      if (release >= 0 && stop >= 0) expect(stop, JSON.stringify(i)).toBeLessThan(release);
      for (const s of steps) {
        if (s.kind !== 'stopPostgres') continue;
        expect(s.budgetMs, JSON.stringify(i)).toBeGreaterThanOrEqual(1_000);
        expect(s.budgetMs, JSON.stringify(i)).toBeLessThanOrEqual((i.keyMsLeft ?? 0) - 500);
        expect(s.budgetMs).toBeLessThanOrEqual(60_000);
      }
    }
  });

  it('pause leaves postgresql, the leader key and the member key alone on every stop (SPEC 5.8); a key holder marks the status key paused', () => {
    // Seed 544 of set 6: pause set while the stop waited for a promotion; the replicas had last
    // seen this leader before the pause and, after the resume, judged it by its deadline.
    for (const i of inputs.filter((x) => x.paused && x.why.kind !== 'restartInPlace')) {
      expect(kinds(decideShutdown(i).steps), JSON.stringify(i)).toEqual(i.keyMsLeft === null ? [] : ['markPaused']);
    }
  });

  it('a restart in place never stops postgresql, never releases the key, never deletes the member key, and exits 75', () => {
    for (const i of inputs.filter((x) => x.why.kind === 'restartInPlace')) {
      const plan = decideShutdown(i);
      expect(kinds(plan.steps), JSON.stringify(i)).toEqual(i.keyMsLeft === null ? ['closeConnections'] : ['closeConnections', 'renewKey']);
      expect(plan.exitCode).toBe(RESTART_IN_PLACE_EXIT_CODE);
    }
  });

  it('releases the key exactly when it is proven ours, and deletes the member key only when this run wrote it (not paused, not in place)', () => {
    for (const i of inputs.filter((x) => !x.paused && x.why.kind !== 'restartInPlace')) {
      const k = kinds(decideShutdown(i).steps);
      expect(k.includes('releaseKey'), JSON.stringify(i)).toBe(i.keyMsLeft !== null);
      expect(k.includes('deleteMember'), JSON.stringify(i)).toBe(i.joined);
      // The member key goes before the release: a released key beside a member key written in
      // pause reads as a leader still paused (which only its own answer clears).
      expect(k[k.length - 1] === 'releaseKey' || i.keyMsLeft === null).toBe(true);
      if (i.joined && i.keyMsLeft !== null) expect(k.indexOf('deleteMember')).toBeLessThan(k.indexOf('releaseKey'));
    }
  });

  it('leaves a replica running unless this node holds the key (a promotion in flight is stopped too)', () => {
    for (const i of inputs.filter((x) => !x.paused && x.why.kind !== 'restartInPlace' && x.postmasterAlive && !x.postmasterMayBeWritable)) {
      const stops = decideShutdown(i).steps.some((s) => s.kind === 'stopPostgres' || s.kind === 'fencePostgres');
      expect(stops, JSON.stringify(i)).toBe(i.keyMsLeft !== null);
    }
  });

  it('exits with the loop\'s code, or 75 for a restart in place', () => {
    for (const i of inputs) {
      const want = i.why.kind === 'restartInPlace' ? 75 : i.why.exitCode;
      expect(decideShutdown(i).exitCode).toBe(want);
    }
  });
});

describe('decideShutdown: the reason sentences', () => {
  it('a leader stopped by a signal stops postgresql within the lease, then releases the key', () => {
    const plan = decideShutdown(base);
    expect(plan.steps).toEqual([{ kind: 'stopPostgres', budgetMs: 7_500 }, { kind: 'deleteMember' }, { kind: 'releaseKey' }]);
    expect(plan.reason).toBe('shutting down (stop signal): stopping postgresql cleanly within 7500 ms of the proven lease, then releasing the leader key so a replica takes over at once');
  });

  it('caps the clean stop at 60 s', () => {
    expect(decideShutdown({ ...base, keyMsLeft: 120_000 }).steps[0]).toEqual({ kind: 'stopPostgres', budgetMs: 60_000 });
  });

  it('fences when too little of the lease is left for a clean stop', () => {
    const plan = decideShutdown({ ...base, keyMsLeft: 1_400 });
    expect(plan.steps[0]).toEqual({ kind: 'fencePostgres', reason: 'shutdown (stop signal): only 1400 ms of the proven lease left for a clean stop' });
    expect(plan.reason).toBe('shutting down (stop signal): fencing postgresql, only 1400 ms of the proven lease left for a clean stop, then releasing the leader key so a replica takes over at once');
  });

  it('fences a writable postgresql without a proven key (a halt after the key was lost)', () => {
    const plan = decideShutdown({ ...base, why: { kind: 'halt', exitCode: 1 }, keyMsLeft: null });
    expect(kinds(plan.steps)).toEqual(['fencePostgres', 'deleteMember']);
    expect(plan.reason).toBe('shutting down (exit code 1): fencing postgresql, no proven lease for a clean stop');
    expect(plan.exitCode).toBe(1);
  });

  it('a refusing newcomer (not joined) leaves the live member\'s key alone', () => {
    const plan = decideShutdown({ ...base, why: { kind: 'halt', exitCode: 2 }, postmasterAlive: false, postmasterMayBeWritable: false, keyMsLeft: null, joined: false });
    expect(plan.steps).toEqual([]);
    expect(plan.reason).toBe('shutting down (exit code 2): postgresql is not running');
  });

  it('a replica is left running; only its member key goes', () => {
    const plan = decideShutdown({ ...base, postmasterMayBeWritable: false, keyMsLeft: null });
    expect(kinds(plan.steps)).toEqual(['deleteMember']);
    expect(plan.reason).toBe('shutting down (stop signal): leaving the replica running');
  });

  it('pause leaves postgresql running, and says when pause is only as last seen', () => {
    expect(decideShutdown({ ...base, paused: true }).reason).toBe('paused: leaving postgresql running, the leader key and the member key as they are on shutdown (stop signal); the status key marked paused first');
    expect(decideShutdown({ ...base, paused: true, keyMsLeft: null }).reason).toBe('paused: leaving postgresql running, the leader key and the member key as they are on shutdown (stop signal)');
    expect(decideShutdown({ ...base, paused: true, pauseFresh: false }).reason)
      .toBe('paused (as last seen; etcd could not be read): leaving postgresql running, the leader key and the member key as they are on shutdown (stop signal); the status key marked paused first');
  });

  it('a restart in place of the leader sends one last keepalive; of a replica, nothing', () => {
    expect(decideShutdown({ ...base, why: { kind: 'restartInPlace' } }).reason)
      .toBe('restart in place: postgresql keeps running, the leader key stays held (one last keepalive) and the fence guard holds the deadline until the next run re-attaches it');
    expect(decideShutdown({ ...base, why: { kind: 'restartInPlace' }, keyMsLeft: null }).reason).toBe('restart in place: not the leader; postgresql and the member key stay');
  });
});

describe('lastResort', () => {
  it('fences a writable postgresql unless paused', () => {
    expect(lastResort({ paused: false, postmasterMayBeWritable: true })).toEqual({ fence: true, reason: 'the agent did not finish stopping in time' });
    expect(lastResort({ paused: true, postmasterMayBeWritable: true }).fence).toBe(false);
    expect(lastResort({ paused: false, postmasterMayBeWritable: false })).toEqual({ fence: false, reason: 'the agent did not finish stopping in time; postgresql cannot accept writes' });
  });
});

describe('answerAgentRestart (POST /restart-agent)', () => {
  it('accepts when idle; a running job needs force; a way out under way answers 503', () => {
    expect(answerAgentRestart({ force: false, jobKind: null, terminating: null })).toEqual({ accepted: true });
    expect(answerAgentRestart({ force: false, jobKind: 'clone', terminating: null }))
      .toEqual({ accepted: false, status: 409, reason: 'a clone job is running; restart the agent after it ends (or force it: the job is aborted)' });
    expect(answerAgentRestart({ force: true, jobKind: 'clone', terminating: null })).toEqual({ accepted: true });
    expect(answerAgentRestart({ force: true, jobKind: null, terminating: 'restart' })).toEqual({ accepted: false, status: 503, reason: 'the agent is already restarting' });
    expect(answerAgentRestart({ force: false, jobKind: null, terminating: 'term' })).toEqual({ accepted: false, status: 503, reason: 'the agent is already stopping' });
  });
});
