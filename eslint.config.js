// Lint: type-aware rules (floating/misused promises are the bugs a daemon cannot afford) and the
// module boundaries of STYLE.md (core imports nothing outside itself; proxy never imports a provider).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const boundary = (group, message) => ({
  'no-restricted-imports': ['error', { patterns: [{ group, message }] }],
});

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'eslint.config.js', 'src/control/dashboard/*.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': ['error', {
        // node:test's describe/it return promises the runner itself tracks.
        allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['describe', 'it', 'test', 'suite', 'before', 'after', 'beforeEach', 'afterEach'] }],
      }],
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-syntax': ['error', {
        selector: "CallExpression[callee.object.name='process'][callee.property.name='exit']",
        message: 'process.exit belongs in src/main.ts only.',
      }],
    },
  },
  {
    // Plain JavaScript that runs at install time, before (and without) the dev dependencies.
    files: ['scripts/**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: { ...tseslint.configs.disableTypeChecked.languageOptions, globals: { process: 'readonly', console: 'readonly' } },
    rules: { ...tseslint.configs.disableTypeChecked.rules, 'no-restricted-syntax': 'off' }, // a script exits with its status
  },
  {
    files: ['src/core/*.ts'],
    rules: boundary(['../*', '!./*', 'node:net', 'node:http', 'dockerode', 'pino'],
      'core/ is the domain: it imports nothing outside src/core (no sockets, no HTTP, no Docker).'),
  },
  {
    files: ['src/core/*/**/*.ts'],
    rules: boundary(['../../*', 'node:net', 'node:http', 'dockerode', 'pino'],
      'core/ is the domain: it imports nothing outside src/core (no sockets, no HTTP, no Docker).'),
  },
  {
    files: ['src/providers/**/*.ts'],
    rules: boundary(['../../proxy/*', '../../config/*', '../../daemon/*', '../../cli/*', '../../control/*', '../../systemd/*'],
      'providers import only the core contract and errors.'),
  },
  {
    files: ['src/proxy/**/*.ts'],
    rules: boundary(['../providers/*', '../../providers/*', '../../../providers/*', 'dockerode'], 'proxy/ never imports a provider.'),
  },
  {
    files: ['src/main.ts', 'test/**/*.ts', 'bench/**/*.ts', 'examples/**/*.ts'],
    rules: { 'no-restricted-syntax': 'off' },
  },
);
