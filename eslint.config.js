import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';
import globals from 'globals';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'bench/results/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  prettier,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'off',
    },
  },
  {
    // The engine core is pure TypeScript: no framework, no ORM, no I/O.
    files: ['libs/engine/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['@nestjs/*'], message: 'The engine core must not depend on NestJS.' },
            { group: ['typeorm', 'typeorm/*', 'mysql2', 'mysql2/*'], message: 'The engine core must not touch the database.' },
            { group: ['bullmq', 'ioredis'], message: 'The engine core must not touch the queue.' },
            { group: ['@gridflow/*'], message: 'The engine core depends on no other Gridflow lib.' },
            { group: ['node:fs', 'node:net', 'node:http', 'fs', 'net', 'http'], message: 'The engine core does no I/O.' },
          ],
        },
      ],
    },
  },
);
