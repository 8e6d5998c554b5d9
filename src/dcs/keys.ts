// The key layout under `<namespace><scope>/`, as Patroni's etcd3 backend uses it (SPEC 4).

export type ClusterKey =
  | { readonly kind: 'leader' }
  | { readonly kind: 'member'; readonly name: string }
  | { readonly kind: 'config' }
  | { readonly kind: 'initialize' }
  | { readonly kind: 'failover' }
  | { readonly kind: 'sync' }
  | { readonly kind: 'history' }
  | { readonly kind: 'status' }
  /** Patroni < 2.1 kept the leader LSN here; read when `status` is absent. */
  | { readonly kind: 'legacyOptime' }
  /** failsafe, MPP groups and anything else: not ours to interpret. */
  | { readonly kind: 'other'; readonly relative: string };

export const MEMBERS_DIR = 'members/';

/** `/service/` + `batman` -> `/service/batman/`. Accepts a namespace without slashes too. */
export function clusterPrefix(namespace: string, scope: string): string {
  if (scope === '' || scope.includes('/')) {
    throw new TypeError(`scope must be a non-empty name without "/", got ${JSON.stringify(scope)}`);
  }
  const ns = `/${namespace}/`.replace(/\/+/g, '/');
  return `${ns}${scope}/`;
}

export function relativeKey(key: ClusterKey): string {
  switch (key.kind) {
    case 'leader': return 'leader';
    case 'member': return `${MEMBERS_DIR}${key.name}`;
    case 'config': return 'config';
    case 'initialize': return 'initialize';
    case 'failover': return 'failover';
    case 'sync': return 'sync';
    case 'history': return 'history';
    case 'status': return 'status';
    case 'legacyOptime': return 'optime/leader';
    case 'other': return key.relative;
    default: return assertNever(key);
  }
}

export function parseRelativeKey(relative: string): ClusterKey {
  if (relative.startsWith(MEMBERS_DIR)) {
    const name = relative.slice(MEMBERS_DIR.length);
    return name !== '' && !name.includes('/') ? { kind: 'member', name } : { kind: 'other', relative };
  }
  switch (relative) {
    case 'leader':
    case 'config':
    case 'initialize':
    case 'failover':
    case 'sync':
    case 'history':
    case 'status':
      return { kind: relative };
    case 'optime/leader':
      return { kind: 'legacyOptime' };
    default:
      return { kind: 'other', relative };
  }
}

export function validateMemberName(name: string): void {
  if (name === '' || name.includes('/')) {
    throw new TypeError(`member name must be non-empty and contain no "/", got ${JSON.stringify(name)}`);
  }
}

export function assertNever(x: never): never {
  throw new Error(`unexpected value ${JSON.stringify(x)}`);
}
