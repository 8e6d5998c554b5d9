import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const ioModules = [
  'node:*', 'fs', 'fs/*', 'child_process', 'net', 'http', 'https', 'os', 'dgram', 'dns', 'tls',
  'worker_threads', 'cluster', 'process', 'etcd3', 'pg', 'execa', 'fastify', 'pino', 'yaml',
];

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
    // The decision core is pure: observed state in, actions out. No I/O of any kind.
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: ioModules, message: 'src/core is pure: no I/O imports (see DESIGN.md)' },
        ],
      }],
      'no-restricted-globals': ['error', 'process', 'setTimeout', 'setInterval', 'fetch'],
    },
  },
);
