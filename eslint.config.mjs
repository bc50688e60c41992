// ESLint (flat config): typescript-eslint for the TypeScript sources and tests, @stylistic for the
// house style as it is (2 spaces, no semicolons, single quotes, a space before function parens).
// Type-aware rules (no-floating-promises and friends) run on the TypeScript projects.
// src/broker and src/cli: findings are warnings for now (the core is being refactored); the rules
// that have no finding there are errors already.
import js from '@eslint/js'
import stylistic from '@stylistic/eslint-plugin'
import globals from 'globals'
import tseslint from 'typescript-eslint'

const style = {
  '@stylistic/semi': ['error', 'never'],
  '@stylistic/indent': ['error', 2, { SwitchCase: 1, ignoredNodes: ['TemplateLiteral *'], offsetTernaryExpressions: true }],
  '@stylistic/quotes': ['error', 'single', { avoidEscape: true, allowTemplateLiterals: 'always' }],
  '@stylistic/space-before-function-paren': ['error', 'always'],
  '@stylistic/keyword-spacing': 'error',
  '@stylistic/space-infix-ops': 'error',
  '@stylistic/comma-spacing': 'error',
  '@stylistic/no-trailing-spaces': 'error',
  '@stylistic/eol-last': 'error',
  '@stylistic/no-multiple-empty-lines': ['error', { max: 1, maxEOF: 0, maxBOF: 0 }],
  '@stylistic/space-before-blocks': 'error',
  '@stylistic/arrow-spacing': 'error',
  '@stylistic/no-tabs': 'error',
}

const typed = {
  '@typescript-eslint/no-floating-promises': 'error',
  '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false, attributes: false } }],
  '@typescript-eslint/await-thenable': 'error',
  // import('…').T in a type position is fine (the code uses it for one-off references); value imports used only as types are not.
  '@typescript-eslint/consistent-type-imports': ['error', { prefer: 'type-imports', fixStyle: 'inline-type-imports', disallowTypeAnnotations: false }],
  // Node-RED node constructors keep `const node = this` for their callbacks.
  '@typescript-eslint/no-this-alias': ['error', { allowedNames: ['node'] }],
  '@typescript-eslint/no-explicit-any': 'error',
  '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', destructuredArrayIgnorePattern: '^_' }],
}

export default tseslint.config(
  { ignores: ['dist/**', 'nodes/**', 'node_modules/**', '.stryker-tmp/**', 'reports/**', '**/*.d.ts', 'coverage/**', 'bench/results/**'] },
  {
    files: ['**/*.{js,mjs,cjs,ts}'],
    plugins: { '@stylistic': stylistic },
    rules: style,
  },
  {
    files: ['**/*.{js,mjs,cjs}'],
    extends: [js.configs.recommended],
    languageOptions: { globals: { ...globals.node }, ecmaVersion: 2023 },
    rules: {
      'no-unused-vars': ['error', { argsIgnorePattern: '^_', caughtErrors: 'none' }],
      'no-empty': ['error', { allowEmptyCatch: true }],
    },
  },
  {
    files: ['**/*.ts'],
    extends: [tseslint.configs.recommended],
    languageOptions: {
      parserOptions: {
        project: ['./tsconfig.json', './tsconfig.nodes.json', './tsconfig.editor.json', './test/types/tsconfig.json'],
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: typed,
  },
  {
    files: ['test/**/*.ts'],
    languageOptions: { globals: { ...globals.mocha } },
    // Tests drive untyped APIs (node-red-node-test-helper, the editor's RED in a browser page).
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
)
