// Public surface of the config module.
export type * from './types.js';
export { ConfigError, formatProblem, type ConfigProblem } from './errors.js';
export { checkConfig, loadConfig, parseConfig, readConfigFile, type CheckResult, type LoadOptions } from './load.js';
export { DEFAULT_DYNAMIC_CONFIG, MIN_TTL, validateDynamicConfig, type DynamicResult } from './dynamic.js';
export { mergeDynamicConfig, storedPatchBase, validatePatchedConfig } from './dynamic-stored.js';
export { DYNAMIC_PASSTHROUGH_KEYS, DYNAMIC_UNSUPPORTED_KEYS, IGNORED_KEYS, UNSUPPORTED_KEYS } from './keys.js';
export { REDACTED, redactConfig } from './redact.js';
export { formatHostPort, parseHostPort } from './address.js';
export { nodeFsProbe, type FsProbe } from './paths.js';
export { packageVersion } from './version.js';
