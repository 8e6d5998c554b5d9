// Shared helpers for the section builders: required keys, addresses and paths, each reporting
// into the sink with the key's path.
import { isWildcardHost, parseHostPort, type Parsed } from './address.js';
import { joinPath, type ProblemSink } from './errors.js';
import { resolveConfigPath, type FsProbe } from './paths.js';
import { str, type Raw } from './read.js';
import type { HostPort } from './types.js';

export interface BuildCtx {
  readonly sink: ProblemSink;
  readonly cwd: string;
  readonly probe: FsProbe;
  readonly env: NodeJS.ProcessEnv;
}

export function report<T>(ctx: BuildCtx, path: string, parsed: Parsed<T>): T | undefined {
  if (parsed.ok) return parsed.value;
  ctx.sink.problem(path, parsed.message);
  return undefined;
}

/** A required non-empty string; reports "is required" when absent. */
export function requiredString(ctx: BuildCtx, raw: Raw | undefined, prefix: string, key: string): string | undefined {
  const path = joinPath(prefix, key);
  const v = str(raw, key);
  if (v === undefined) {
    if (raw?.[key] === undefined || raw[key] === null) ctx.sink.problem(path, 'is required');
    return undefined;
  }
  if (v.trim() === '') {
    ctx.sink.problem(path, 'must not be empty');
    return undefined;
  }
  return v;
}

/** An optional path, resolved against the working directory; `mustExist` checks the file. */
export function optionalPath(ctx: BuildCtx, raw: Raw | undefined, prefix: string, key: string, mustExist = false): string | undefined {
  const v = str(raw, key);
  if (v === undefined) return undefined;
  const path = joinPath(prefix, key);
  const resolved = report(ctx, path, resolveConfigPath(v, ctx.cwd));
  if (resolved !== undefined && mustExist && !ctx.probe.exists(resolved)) {
    ctx.sink.problem(path, `file not found: ${resolved}`);
  }
  return resolved;
}

/** A connect_address: given (never a wildcard), or derived from a concrete listen host. */
export function connectAddress(ctx: BuildCtx, raw: Raw | undefined, prefix: string, listen: HostPort | undefined, listenIsSingle: boolean): HostPort | undefined {
  const path = joinPath(prefix, 'connect_address');
  const text = str(raw, 'connect_address');
  if (text !== undefined) {
    const hp = report(ctx, path, parseHostPort(text, { example: '10.0.0.1:5432' }));
    if (hp !== undefined && isWildcardHost(hp.host)) {
      ctx.sink.problem(path, `must be an address other members can connect to, not the wildcard "${hp.host}"`);
      return undefined;
    }
    return hp;
  }
  if (raw?.['connect_address'] !== undefined && raw['connect_address'] !== null) return undefined;
  if (listen === undefined) return undefined;
  if (!listenIsSingle || isWildcardHost(listen.host)) {
    ctx.sink.problem(path, `is required when ${joinPath(prefix, 'listen')} is a wildcard or lists several addresses`);
    return undefined;
  }
  return listen;
}
