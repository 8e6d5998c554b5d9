// The package version, read from package.json next to src/ and dist/ (both sit two levels
// below the package root, so one relative path serves the sources and the build).
import { createRequire } from 'node:module';

let cached: string | undefined;

export function packageVersion(): string {
  if (cached === undefined) {
    const require = createRequire(import.meta.url);
    const pkg = require('../../package.json') as { version?: unknown };
    cached = typeof pkg.version === 'string' ? pkg.version : '0.0.0';
  }
  return cached;
}
