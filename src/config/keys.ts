// The walker's view of the registries (registry-local.ts, registry-dynamic.ts): keys the schema
// does not list but the agent knows, ignored (a warning) or refused (an error). Derived, so the
// registries stay the one place a key's status is written.
import { DYNAMIC_REGISTRY } from './registry-dynamic.js';
import { LOCAL_REGISTRY } from './registry-local.js';
import { walkRules } from './registry.js';
import { DYNAMIC_SCHEMA, LOCAL_SCHEMA } from './schema.js';

const local = walkRules(LOCAL_REGISTRY, LOCAL_SCHEMA);
const dynamic = walkRules(DYNAMIC_REGISTRY, DYNAMIC_SCHEMA);

/** Local keys accepted and ignored (a warning is logged at start-up). Path -> why. */
export const IGNORED_KEYS: Readonly<Record<string, string>> = Object.freeze(local.ignored);

/** Local keys rejected with a start-up error. Path -> problem text. */
export const UNSUPPORTED_KEYS: Readonly<Record<string, string>> = Object.freeze(local.unsupported);

/** Dynamic keys stored and handed back unchanged, not acted upon (a warning names them). */
export const DYNAMIC_PASSTHROUGH_KEYS: Readonly<Record<string, string>> = Object.freeze(dynamic.ignored);

/** Dynamic keys rejected (in bootstrap.dcs, PATCH /config and edit-config). Path -> problem text. */
export const DYNAMIC_UNSUPPORTED_KEYS: Readonly<Record<string, string>> = Object.freeze(dynamic.unsupported);
