// ESLint flat config. The `workflows/**` override keeps Node built-ins and I/O libraries out of
// workflow code, which runs in Temporal's deterministic sandbox (a bundling test backs this up).
// The product (`src/`, `activities/`, `workflows/`) never imports the development tooling of
// `tools/` or the tests of `test/`, which the image does not contain (`npm run build` compiles the
// product alone and fails if anything else ends up in dist/).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

const devToolingOnly = {
  regex: '^(\\.\\./)+(tools|test)/',
  message: 'tools/ and test/ are development-only and not in the image; the product must not import them',
};

const forbiddenInWorkflows = [
  ...builtinModules.flatMap((m) => [m, `node:${m}`]),
  '@kubernetes/client-node',
  '@aws-sdk/*',
  'zookeeper',
  'pino',
  '@temporalio/activity',
  '@temporalio/client',
  '@temporalio/worker',
  '@temporalio/testing',
];

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', '.tools/', '.stack/', 'coverage/', 'bench-results/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    files: ['src/**/*.ts', 'activities/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [devToolingOnly] }] },
  },
  {
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': 'off',
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: forbiddenInWorkflows
            .filter((m) => !m.includes('*'))
            .map((name) => ({
              name,
              message:
                'workflow code runs in the Temporal sandbox: no Node built-ins or I/O; use an activity',
            })),
          patterns: [
            { group: ['@aws-sdk/*', '../src/logger*'], message: 'no I/O in workflows' },
            devToolingOnly,
            {
              // src/api/ is the workflow-safe part of src/: kinds, types, the bridge-workflow contract,
              // problems, durations. Anything else of src/ (and activities/) only as a type.
              regex: '^\\.\\./src/(?!api/)',
              allowTypeImports: true,
              message:
                'workflows may import values only from src/api/ (the workflow-safe folder); use import type',
            },
            {
              regex: '^\\.\\./activities/',
              allowTypeImports: true,
              message: 'workflows call activities through proxyActivities; import their types only',
            },
          ],
        },
      ],
    },
  },
);
