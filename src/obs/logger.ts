// The root pino logger: one JSON line per event with base fields {node, scope}, ISO time, and
// secrets removed twice over: pino's path redaction for the known places, plus a scrub of every
// logged object for password-named fields and passwords inside conninfo strings and URLs.
import pino, { type DestinationStream, type Logger } from 'pino';

export const CENSOR = '*****';

export const REDACT_PATHS: readonly string[] = [
  'password', '*.password', '*.*.password', '*.*.*.password',
  'conninfo', '*.conninfo', 'primary_conninfo', '*.primary_conninfo',
  'connectionString', '*.connectionString',
  'config.*.authentication',
  'req.headers.authorization', 'req.headers["proxy-authorization"]', 'req.headers.cookie',
  'headers.authorization', '*.headers.authorization',
];

export interface RootLoggerOptions {
  readonly level: string;
  readonly node: string;
  readonly scope: string;
  /** Defaults to synchronous stdout, so a fatal line is written before the process exits. */
  readonly destination?: DestinationStream;
}

const SECRET_KEY = /password|passwd|passphrase|secret|authorization/i;
const CONNINFO_PASSWORD = /(password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s']+)/gi;
const URL_USERINFO = /(\b[a-z][a-z0-9+.-]*:\/\/[^:/?#@\s]*:)[^@/?#\s]*@/gi;
const MAX_DEPTH = 8;

/** Masks passwords written inside conninfo strings ("password=x") and URLs (user:x@host). */
export function scrubString(s: string): string {
  if (!/password|:\/\//i.test(s)) return s;
  return s.replace(CONNINFO_PASSWORD, `$1${CENSOR}`).replace(URL_USERINFO, `$1${CENSOR}@`);
}

function isPlain(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/** Copy-on-write scrub: returns the same object when nothing needed masking. */
export function scrubSecrets(value: unknown, depth = 0, memo: Map<object, unknown> = new Map()): unknown {
  if (typeof value === 'string') return scrubString(value);
  if (depth >= MAX_DEPTH || typeof value !== 'object' || value === null) return value;
  if (memo.has(value)) return memo.get(value);
  memo.set(value, value); // a cycle resolves to the original; pino's stringify handles cycles
  let result: unknown = value;
  if (Array.isArray(value)) {
    const mapped = value.map((v) => scrubSecrets(v, depth + 1, memo));
    if (mapped.some((v, i) => v !== value[i])) result = mapped;
  } else if (isPlain(value)) {
    let out: Record<string, unknown> | undefined;
    for (const [k, v] of Object.entries(value)) {
      const next = SECRET_KEY.test(k) && (typeof v === 'string' || typeof v === 'number') ? CENSOR : scrubSecrets(v, depth + 1, memo);
      if (next !== v) {
        out ??= { ...value };
        out[k] = next;
      }
    }
    if (out !== undefined) result = out;
  }
  memo.set(value, result);
  return result;
}

/** pino's err serializer, with passwords masked in the message and stack (pg errors can quote conninfo). */
function errSerializer(err: unknown): unknown {
  const s = pino.stdSerializers.err(err as Error) as unknown as Record<string, unknown>;
  if (typeof s !== 'object' || s === null) return s;
  for (const key of ['message', 'stack']) {
    const v = s[key];
    if (typeof v === 'string') s[key] = scrubString(v);
  }
  return s;
}

export function createRootLogger(opts: RootLoggerOptions): Logger {
  const destination = opts.destination ?? pino.destination({ dest: 1, sync: true });
  return pino(
    {
      level: opts.level,
      base: { node: opts.node, scope: opts.scope },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: [...REDACT_PATHS], censor: CENSOR },
      serializers: { err: errSerializer },
      formatters: {
        level: (label) => ({ level: label }),
        bindings: (bindings) => scrubSecrets(bindings) as Record<string, unknown>,
        log: (obj) => scrubSecrets(obj) as Record<string, unknown>,
      },
    },
    destination,
  );
}

export function componentLogger(root: Logger, component: string): Logger {
  return root.child({ component });
}
