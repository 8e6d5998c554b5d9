import { describe, expect, it } from 'vitest';
import { baseRaw, check, edit, fakeProbe, problemsOf, type RawConfig } from './helpers.js';
import type { FsProbe } from '../../../src/config/paths.js';

interface Case {
  readonly name: string;
  readonly input: RawConfig | string;
  readonly path: string;
  readonly fragment: string;
  readonly probe?: FsProbe;
}

const ipv6Rest = edit(['restapi.listen', '::1:8008']);

const cases: Case[] = [
  { name: 'missing scope', input: edit(['scope', undefined]), path: 'scope', fragment: 'is required' },
  { name: 'missing name', input: edit(['name', undefined]), path: 'name', fragment: 'is required' },
  { name: 'name with a slash', input: edit(['name', 'a/b']), path: 'name', fragment: 'must not contain "/"' },
  { name: 'empty namespace', input: edit(['namespace', '/']), path: 'namespace', fragment: 'must name a path' },
  { name: 'unknown top-level key with a typo', input: edit(['scpoe', 'x']), path: 'scpoe', fragment: 'unknown key; did you mean "scope"?' },
  { name: 'unknown nested key with a typo', input: edit(['postgresql.datadir', '/x']), path: 'postgresql.datadir', fragment: 'did you mean "data_dir"?' },
  { name: 'dynamic key at the top level', input: edit(['ttl', 30]), path: 'ttl', fragment: 'did you mean "bootstrap.dcs.ttl"?' },
  { name: 'unknown key without a near match', input: edit(['restapi.zzzzzzzz', 1]), path: 'restapi.zzzzzzzz', fragment: 'unknown key' },
  { name: 'boolean tag given a string', input: edit(['tags.nofailover', 'maybe']), path: 'tags.nofailover', fragment: 'expected a boolean' },
  { name: 'ttl given a string', input: edit(['bootstrap.dcs.ttl', 'thirty']), path: 'bootstrap.dcs.ttl', fragment: 'expected an integer' },
  { name: 'section given a scalar', input: edit(['restapi', 'yes please']), path: 'restapi', fragment: 'expected a mapping' },
  // Issue 13: what pg_ctl's shell line or the config writer would choke on, refused at load.
  { name: 'data_dir with a command substitution', input: edit(['postgresql.data_dir', '/var/lib/pg/$(touch /tmp/x)']), path: 'postgresql.data_dir', fragment: 'contains "$", which pg_ctl would pass through a shell' },
  { name: 'data_dir with a double quote', input: edit(['postgresql.data_dir', '/var/lib/pg/a"b']), path: 'postgresql.data_dir', fragment: 'which pg_ctl would pass through a shell' },
  { name: 'data_dir with a line break', input: edit(['postgresql.data_dir', '/var/lib/pg/a\nb']), path: 'postgresql.data_dir', fragment: 'contains a control character' },
  { name: 'parameter value with a line break', input: edit(['postgresql.parameters.archive_command', "true\nshared_preload_libraries = 'evil'"]), path: 'postgresql.parameters.archive_command', fragment: 'contains a line break or NUL' },
  { name: 'invalid parameter name', input: edit(['postgresql.parameters', { 'work mem': '8MB' }]), path: 'postgresql.parameters.work mem', fragment: 'is not a valid PostgreSQL parameter name' },
  { name: 'pg_hba entry with a line break', input: edit(['postgresql.pg_hba', ['host all all 0.0.0.0/0 md5\nhost all all 0.0.0.0/0 trust']]), path: 'postgresql.pg_hba[0]', fragment: 'contains a line break' },
  { name: 'bootstrap.pg_hba entry with a line break', input: edit(['bootstrap.pg_hba', ['local all all trust\r']]), path: 'bootstrap.pg_hba[0]', fragment: 'contains a line break' },
  { name: 'dynamic parameter value with a line break', input: edit(['bootstrap.dcs.postgresql', { parameters: { work_mem: '8MB\n' } }]), path: 'bootstrap.dcs.postgresql.parameters.work_mem', fragment: 'contains a line break or NUL' },
  { name: 'missing data_dir', input: edit(['postgresql.data_dir', undefined]), path: 'postgresql.data_dir', fragment: 'is required' },
  { name: 'missing postgresql.listen', input: edit(['postgresql.listen', undefined]), path: 'postgresql.listen', fragment: 'is required' },
  { name: 'missing replication user', input: edit(['postgresql.authentication.replication', undefined]), path: 'postgresql.authentication.replication.username', fragment: 'is required' },
  { name: 'missing superuser user', input: edit(['postgresql.authentication.superuser.username', undefined]), path: 'postgresql.authentication.superuser.username', fragment: 'is required' },
  { name: 'empty rewind user', input: edit(['postgresql.authentication.rewind', { username: ' ' }]), path: 'postgresql.authentication.rewind.username', fragment: 'must not be empty' },
  { name: 'no etcd endpoint', input: edit(['etcd3', { protocol: 'http' }]), path: 'etcd3.hosts', fragment: 'is required' },
  { name: "Patroni's etcd v2 section", input: edit(['etcd3', undefined], ['etcd', { host: '127.0.0.1:2379' }]), path: 'etcd', fragment: 'rename the section to etcd3' },
  { name: 'another DCS', input: edit(['consul', { host: '127.0.0.1:8500' }]), path: 'consul', fragment: 'only etcd3 is supported' },
  { name: 'bad etcd protocol', input: edit(['etcd3.protocol', 'grpc']), path: 'etcd3.protocol', fragment: 'must be http or https' },
  { name: 'etcd user without password', input: edit(['etcd3.username', 'root']), path: 'etcd3.password', fragment: 'is required when etcd3.username is set' },
  { name: 'missing restapi.listen', input: edit(['restapi', undefined]), path: 'restapi.listen', fragment: 'is required' },
  { name: 'port out of range', input: edit(['restapi.listen', '127.0.0.1:70000']), path: 'restapi.listen', fragment: 'between 1 and 65535' },
  { name: 'port zero', input: edit(['postgresql.listen', '127.0.0.1:0']), path: 'postgresql.listen', fragment: 'between 1 and 65535, got 0' },
  { name: 'address without port', input: edit(['restapi.connect_address', '10.0.0.1']), path: 'restapi.connect_address', fragment: 'has no port' },
  { name: 'IPv6 without brackets', input: ipv6Rest, path: 'restapi.listen', fragment: 'must be written in brackets' },
  { name: 'empty host', input: edit(['postgresql.connect_address', ':5432']), path: 'postgresql.connect_address', fragment: 'host is empty' },
  { name: 'bad IPv4 address', input: edit(['restapi.connect_address', '10.0.0.300:8008']), path: 'restapi.connect_address', fragment: 'not a valid IPv4 address' },
  { name: 'etcd host with a bad port', input: edit(['etcd3.hosts', ['127.0.0.1:2379', '127.0.0.1:x']]), path: 'etcd3.hosts[1]', fragment: 'port must be an integer' },
  { name: 'restapi and postgresql on one port', input: edit(['restapi.listen', '0.0.0.0:5432'], ['restapi.connect_address', '127.0.0.1:8008']), path: 'restapi.listen', fragment: "is also postgresql.listen's port" },
  { name: 'wildcard connect_address', input: edit(['postgresql.connect_address', '0.0.0.0:5432']), path: 'postgresql.connect_address', fragment: 'not the wildcard' },
  { name: 'wildcard listen without connect_address', input: edit(['postgresql.listen', '0.0.0.0:5432'], ['postgresql.connect_address', undefined]), path: 'postgresql.connect_address', fragment: 'is required when postgresql.listen is a wildcard' },
  { name: 'bin_dir without pg_ctl', input: edit(['postgresql.bin_dir', '/opt/empty']), probe: fakeProbe({ dirs: ['/opt/empty'] }), path: 'postgresql.bin_dir', fragment: 'has no executable pg_ctl' },
  { name: 'bin_dir missing', input: edit(['postgresql.bin_dir', '/nope/bin']), path: 'postgresql.bin_dir', fragment: 'is not a directory' },
  { name: 'no bin_dir and no PostgreSQL anywhere', input: edit(['postgresql.bin_dir', undefined]), probe: fakeProbe({ binDirs: [] }), path: 'postgresql.bin_dir', fragment: 'pg_ctl was found neither on PATH' },
  { name: 'path that cannot be made absolute', input: edit(['postgresql.data_dir', '~/data']), path: 'postgresql.data_dir', fragment: '"~" is not expanded' },
  { name: 'unknown log level', input: edit(['log.level', 'LOUD']), path: 'log.level', fragment: 'unknown log level "LOUD"' },
  { name: 'negative failover_priority', input: edit(['tags.failover_priority', -1]), path: 'tags.failover_priority', fragment: 'must be a non-negative integer' },
  { name: 'fractional failover_priority', input: edit(['tags.failover_priority', 1.5]), path: 'tags.failover_priority', fragment: 'expected an integer' },
  { name: 'nested user tag', input: edit(['tags.zone', { a: 1 }]), path: 'tags.zone', fragment: 'expected a string, number or boolean' },
  { name: 'allowlist prefix too long', input: edit(['restapi.allowlist', ['10.0.0.0/8', '10.0.0.0/33']]), path: 'restapi.allowlist[1]', fragment: 'bad prefix length' },
  { name: 'allowlist entry not an address', input: edit(['restapi.allowlist', ['db.example.com']]), path: 'restapi.allowlist[0]', fragment: 'not an IP address or CIDR' },
  { name: 'certfile without keyfile', input: edit(['restapi.certfile', '/etc/ssl/a.pem']), probe: fakeProbe({ files: ['/etc/ssl/a.pem'] }), path: 'restapi.keyfile', fragment: 'is required when restapi.certfile is set' },
  { name: 'TLS file not found', input: edit(['restapi.certfile', '/etc/ssl/none.pem'], ['restapi.keyfile', '/etc/ssl/none.key']), path: 'restapi.certfile', fragment: 'file not found: /etc/ssl/none.pem' },
  { name: 'verify_client without cafile', input: edit(['restapi.certfile', '/c.pem'], ['restapi.keyfile', '/k.pem'], ['restapi.verify_client', 'required']), probe: fakeProbe({ files: ['/c.pem', '/k.pem'] }), path: 'restapi.cafile', fragment: 'is required when restapi.verify_client is required' },
  { name: 'bad verify_client', input: edit(['restapi.verify_client', 'always']), path: 'restapi.verify_client', fragment: 'must be none, optional or required' },
  { name: 'REST auth without password', input: edit(['restapi.authentication', { username: 'admin' }]), path: 'restapi.authentication.password', fragment: 'is required' },
  { name: 'ttl below the minimum', input: edit(['bootstrap.dcs', { ttl: 3, loop_wait: 1, retry_timeout: 1 }]), path: 'bootstrap.dcs.ttl', fragment: 'must be at least 4 seconds, got 3' },
  { name: 'ttl too small', input: edit(['bootstrap.dcs', { ttl: 3, loop_wait: 1, retry_timeout: 1 }]), path: 'bootstrap.dcs.ttl', fragment: 'must be at least 4 seconds' },
  { name: 'loop_wait zero', input: edit(['bootstrap.dcs.loop_wait', 0]), path: 'bootstrap.dcs.loop_wait', fragment: 'must be greater than 0' },
  { name: 'unknown sync mode', input: edit(['bootstrap.dcs.synchronous_mode', 'sometimes']), path: 'bootstrap.dcs.synchronous_mode', fragment: 'must be true, false or quorum, got "sometimes"' },
  { name: 'standby cluster', input: edit(['bootstrap.dcs.standby_cluster', { host: 'x' }]), path: 'bootstrap.dcs.standby_cluster', fragment: 'standby clusters are not supported' },
  { name: 'unknown dynamic key', input: edit(['bootstrap.dcs.loop_wiat', 3]), path: 'bootstrap.dcs.loop_wiat', fragment: 'did you mean "loop_wait"?' },
  { name: 'bad watchdog mode', input: edit(['watchdog.mode', 'sometimes']), path: 'watchdog.mode', fragment: 'must be off, automatic or required' },
  { name: 'watchdog margin below -1', input: edit(['watchdog.safety_margin', -5]), path: 'watchdog.safety_margin', fragment: 'must be -1' },
  { name: 'unsupported replica method', input: edit(['postgresql.create_replica_methods', ['wal_e', 'basebackup']]), path: 'postgresql.create_replica_methods[0]', fragment: 'only basebackup is supported' },
  { name: 'malformed initdb option', input: edit(['bootstrap.initdb', [{ encoding: 'UTF8', locale: 'C' }]]), path: 'bootstrap.initdb[0]', fragment: 'single-key mapping' },
  { name: 'basebackup option owned by the agent', input: edit(['postgresql.basebackup', ['pgdata']]), path: 'postgresql.basebackup[0]', fragment: 'is set by the agent' },
  { name: 'unsupported bootstrap method', input: edit(['bootstrap.method', 'wal_e']), path: 'bootstrap.method', fragment: 'only the initdb bootstrap method' },
  { name: 'pre_promote script', input: edit(['postgresql.pre_promote', '/bin/fence']), path: 'postgresql.pre_promote', fragment: 'not supported' },
  { name: 'conflicting parameters.port', input: edit(['postgresql.parameters', { port: 5433 }]), path: 'postgresql.parameters.port', fragment: 'conflicts with postgresql.listen (port 5432)' },
  { name: 'YAML syntax error', input: 'scope: pgha\nname: "node1\n', path: '', fragment: 'YAML syntax error at line' },
  { name: 'duplicate YAML key', input: 'scope: a\nscope: b\n', path: '', fragment: 'Map keys must be unique' },
  { name: 'not a mapping', input: '- scope: pgha\n', path: '', fragment: 'must be a YAML mapping' },
];

describe('invalid configurations', () => {
  it('covers at least 25 distinct cases', () => {
    expect(new Set(cases.map((c) => c.name)).size).toBe(cases.length);
    expect(cases.length).toBeGreaterThanOrEqual(25);
  });

  it.each(cases)('$name -> $path', ({ input, path, fragment, probe }) => {
    const problems = problemsOf(input, {}, probe);
    const hit = problems.find((p) => p.path === path && p.message.includes(fragment));
    expect(hit, `problems were: ${JSON.stringify(problems, null, 1)}`).toBeDefined();
  });

  it('the base config these cases break is itself valid', () => {
    const r = check(baseRaw());
    expect(r.ok ? 'ok' : r.problems).toBe('ok');
  });
});

describe('several problems at once', () => {
  it('lists every problem, each with its own path', () => {
    const input = edit(
      ['scope', undefined],
      ['restapi.listen', '127.0.0.1:99999'],
      ['postgresql.data_dir', undefined],
      ['tags.nofailover', 'perhaps'],
      ['bootstrap.dcs', { ttl: 2, loop_wait: 1, retry_timeout: 1 }],
      ['postgresql.authentication.replication.username', undefined],
      ['lgo', { level: 'info' }],
    );
    const paths = problemsOf(input).map((p) => p.path);
    expect(paths).toEqual(expect.arrayContaining([
      'scope', 'restapi.listen', 'postgresql.data_dir', 'tags.nofailover', 'bootstrap.dcs.ttl',
      'postgresql.authentication.replication.username', 'lgo',
    ]));
    expect(paths.length).toBe(7);
  });
});
