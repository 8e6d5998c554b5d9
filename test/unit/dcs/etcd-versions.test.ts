import { describe, expect, it } from 'vitest';
import { leaseBugsOf, parseVersion, versionWarning } from '../../../src/dcs/etcd-versions.js';

const bugs = (v: string): string[] => leaseBugsOf(v).map((f) => `${f.bug}@${f.fixedIn}`);

describe('etcd versions with known lease-safety bugs', () => {
  it('parses server versions, with or without a v and a pre-release suffix', () => {
    expect(parseVersion('3.4.23')).toEqual([3, 4, 23]);
    expect(parseVersion('v3.5.0-rc.1')).toEqual([3, 5, 0]);
    expect(parseVersion('not a version')).toBeNull();
  });

  it("flags Debian 12's etcd 3.4.23 with both bugs and the 3.4 releases that fix them", () => {
    expect(bugs('3.4.23')).toEqual(['old-leader-revokes-leases@3.4.31', 'renew-of-revoked-lease@3.4.38']);
  });

  it('uses the exact first fixed release of each line', () => {
    expect(bugs('3.4.30')).toEqual(['old-leader-revokes-leases@3.4.31', 'renew-of-revoked-lease@3.4.38']);
    expect(bugs('3.4.31')).toEqual(['renew-of-revoked-lease@3.4.38']);
    expect(bugs('3.4.38')).toEqual([]);
    expect(bugs('3.5.12')).toEqual(['old-leader-revokes-leases@3.5.13', 'renew-of-revoked-lease@3.5.23']);
    expect(bugs('3.5.13')).toEqual(['renew-of-revoked-lease@3.5.23']);
    expect(bugs('3.5.23')).toEqual([]);
    expect(bugs('3.6.0')).toEqual(['renew-of-revoked-lease@3.6.5']);
    expect(bugs('3.6.5')).toEqual([]);
    expect(bugs('3.7.0')).toEqual([]);
  });

  it('flags lines that never got the fix (3.3 and older) with every fixed release to move to', () => {
    expect(bugs('3.3.27')).toEqual([
      'old-leader-revokes-leases@3.4.31, 3.5.13 or 3.6.0',
      'renew-of-revoked-lease@3.4.38, 3.5.23, 3.6.5 or 3.7.0',
    ]);
  });

  it('says nothing about a version it cannot read', () => {
    expect(leaseBugsOf('')).toEqual([]);
    expect(versionWarning('h:1', 'garbage')).toBeNull();
  });

  it('writes one warning line naming the member, its version and the fixed releases', () => {
    expect(versionWarning('10.0.0.1:2379', '3.4.23')).toBe(
      'etcd member 10.0.0.1:2379 runs etcd 3.4.23, which has known lease-safety bugs: ' +
      'old-leader-revokes-leases (fixed in 3.4.31), renew-of-revoked-lease (fixed in 3.4.38); upgrade etcd');
    expect(versionWarning('10.0.0.1:2379', '3.5.23')).toBeNull();
  });
});
