import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const ioModules = [
  'node:*', 'fs', 'fs/*', 'child_process', 'net', 'http', 'https', 'os', 'dgram', 'dns', 'tls',
  'worker_threads', 'cluster', 'process', 'etcd3', 'pg', 'execa', 'fastify', 'pino', 'yaml',
];
const testImports = { group: ['**/test/**'], message: 'src must not import test code: it would ship in dist/' };

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-restricted-syntax': ['error', {
        selector: "CallExpression[callee.property.name='only'][callee.object.name=/^(it|test|describe)$/]",
        message: '.only would silence the rest of the suite',
      }],
    },
  },
  {
    // What ships in dist/ never depends on test code (fakes live in test/support/fakes).
    files: ['src/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [testImports] }],
    },
  },
  {
    // The fence sits below the loop: the loop arms it, it never calls back into the loop.
    files: ['src/fence/**/*.ts'],
    ignores: ['src/fence/fence-guard-protocol.ts', 'src/fence/guard-logic.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [testImports, { group: ['**/loop/**'], message: 'src/fence must not import src/loop (the loop drives the fence, not the other way)' }] }],
    },
  },
  {
    // The decision core is pure: observed state in, actions out. No I/O of any kind. The fence
    // guard's message and hand-over format and its logic are pure too, though they live with the
    // guard (the logic reaches time only through the Clock and Timers ports).
    files: ['src/core/**/*.ts', 'src/fence/fence-guard-protocol.ts', 'src/fence/guard-logic.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: ioModules, message: 'src/core is pure: no I/O imports (see DESIGN.md)' },
          testImports,
        ],
      }],
      'no-restricted-globals': ['error', 'process', 'setTimeout', 'setInterval', 'fetch'],
    },
  },
);
