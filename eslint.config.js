// Lint for the TypeScript of every package, the server and the tests.
// Production code (src/) is linted with type information, so a promise
// nobody awaits or handles is an error (no-floating-promises); tests and
// scripts get the rules that need no types. Generated code is left alone.
import js from "@eslint/js";
import globals from "globals";
import tseslint from "typescript-eslint";

export default tseslint.config(
  {
    ignores: ["**/node_modules/**", "**/dist/**", "**/gen/**", "packages/java/**", "packages/go/**", "bench-results/**", "test/.tmp*/**", ".baton/**"],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      // `_name` marks a binding kept on purpose (a destructured field left out, an unused parameter).
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none", ignoreRestSiblings: true }],
      // Generic constraints such as `(...args: any[]) => any` need it; `unknown` is the rule everywhere else by review.
      "@typescript-eslint/no-explicit-any": "off",
      // `{}` as a generic default ("no fields yet") is how the builder's types are written.
      "@typescript-eslint/no-empty-object-type": "off",
      // A `let` assigned once, later, and read by a closure defined before (a timer its own callback clears).
      "prefer-const": ["error", { ignoreReadBeforeAssign: true }],
    },
  },
  {
    // Type tests: values exist to have their types checked.
    files: ["**/test/types/**/*.ts"],
    rules: { "@typescript-eslint/no-unused-vars": "off" },
  },
  {
    files: ["packages/*/src/**/*.ts", "server/src/**/*.ts"],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": ["error", { checksVoidReturn: false }],
      "@typescript-eslint/await-thenable": "error",
    },
  },
);
