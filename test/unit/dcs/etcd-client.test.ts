import { BrokenCircuitError } from 'cockatiel';
import {
  ClientClosedError, EtcdAuthenticationFailedError, GRPCDeadlineExceededError, GRPCInvalidArgumentError,
  GRPCUnavailableError, GRPCUnknownError, castGrpcError,
} from 'etcd3';
import { describe, expect, it } from 'vitest';
import {
  etcdClientOptions, GRPC_KEEPALIVE_TIME_MS, isLeaderTransition, timeoutsFor, toDcsError,
} from '../../../src/dcs/etcd-client.js';
import { DcsError } from '../../../src/dcs/port.js';

const T = timeoutsFor(4);

describe('etcd client options', () => {
  it('maps hosts, protocol and auth from the etcd3 config section', () => {
    const o = etcdClientOptions({
      protocol: 'http', hosts: [{ host: '10.0.0.1', port: 2379 }, { host: '::1', port: 2380 }], username: 'root', password: 'pw',
    }, T);
    expect(o.hosts).toEqual(['http://10.0.0.1:2379', 'http://[::1]:2380']);
    expect(o.auth).toEqual({ username: 'root', password: 'pw' });
    expect(o.grpcOptions?.['grpc.keepalive_time_ms']).toBeGreaterThanOrEqual(5000);
    expect(GRPC_KEEPALIVE_TIME_MS).toBeGreaterThanOrEqual(5000);
    expect(o.faultHandling?.host).toBeTypeOf('function');
    expect(o.faultHandling?.global).toBeDefined();
  });

  it('gives unary calls a per-attempt deadline and leaves streams alone', () => {
    const o = etcdClientOptions({ protocol: 'http', hosts: [{ host: 'h', port: 1 }] }, T);
    const f = o.defaultCallOptions as (ctx: { isStream: boolean }) => { deadline?: number };
    const before = Date.now();
    expect(f({ isStream: false }).deadline).toBeGreaterThanOrEqual(before + T.attemptTimeoutMs);
    expect(f({ isStream: true })).toEqual({});
  });

  it('names the TLS file it cannot read, and needs cacert with cert/key', () => {
    expect(() => etcdClientOptions({ protocol: 'https', hosts: [{ host: 'h', port: 1 }], cacert: '/nonexistent/ca.pem' }, T))
      .toThrow(/etcd3\.cacert: cannot read \/nonexistent\/ca\.pem/);
    expect(() => etcdClientOptions({ protocol: 'https', hosts: [{ host: 'h', port: 1 }], cert: '/x' }, T))
      .toThrow(/need etcd3\.cacert/);
    expect(() => etcdClientOptions({ protocol: 'http', hosts: [] }, T)).toThrow(/hosts is empty/);
  });

  it('fits one tick of calls in retry_timeout', () => {
    expect(timeoutsFor(4)).toEqual({ callTimeoutMs: 2000, attemptTimeoutMs: 1000 });
    expect(timeoutsFor(10)).toEqual({ callTimeoutMs: 5000, attemptTimeoutMs: 2500 });
  });
});

describe('toDcsError', () => {
  const code = (e: unknown): [string, boolean] => {
    const d = toDcsError(e, 'op');
    return [d.code, d.retryable];
  };

  it('treats "not a primary lessor" (gRPC Unknown during an etcd leader change) as retryable', () => {
    const grpcErr = Object.assign(new Error('2 UNKNOWN: etcdserver: not a primary lessor'), { code: 2 });
    const cast = castGrpcError(grpcErr);
    expect(cast).toBeInstanceOf(GRPCUnknownError);
    expect(code(cast)).toEqual(['unavailable', true]);
    expect(isLeaderTransition(cast)).toBe(true);
  });

  it('maps the library errors to stable codes', () => {
    expect(code(new GRPCUnavailableError('14 UNAVAILABLE: No connection established'))).toEqual(['unavailable', true]);
    expect(code(new GRPCDeadlineExceededError('4 DEADLINE_EXCEEDED'))).toEqual(['deadline', true]);
    expect(code(new EtcdAuthenticationFailedError('etcdserver: authentication failed'))).toEqual(['auth', false]);
    expect(code(new ClientClosedError('KV'))).toEqual(['closed', false]);
    expect(code(new GRPCInvalidArgumentError('3 INVALID_ARGUMENT: etcdserver: key is not provided'))).toEqual(['invalid', false]);
    expect(code(new BrokenCircuitError())).toEqual(['unavailable', true]);
    const mine = new DcsError('deadline', 'x');
    expect(toDcsError(mine, 'op')).toBe(mine);
  });
});
