// Type-aware lint: floating promises and misused promises are bugs in a streaming engine.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", "coverage/", "out/", ".bench-data/", "**/*.js", "**/*.mjs", "!eslint.config.js"] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/only-throw-error": "error",
      "@typescript-eslint/restrict-template-expressions": ["error", { allowNumber: true, allowBoolean: true }],
    },
  },
  ...layers(),
  {
    files: ["eslint.config.js"],
    extends: [tseslint.configs.disableTypeChecked],
  },
);

/**
 * The layering, as a rule: each folder of src/ may import only the folders below it, in the order
 * data flows (docs/architecture.md). `core` is pure; library code never imports `cli`.
 *   core <- engines, io, sim <- pipeline <- durability <- job <- cli
 */
function layers() {
  const forbidden = {
    core: ["engines", "io", "sim", "pipeline", "durability", "job", "cli"],
    engines: ["io", "sim", "pipeline", "durability", "job", "cli"],
    io: ["engines", "sim", "pipeline", "durability", "job", "cli"],
    sim: ["io", "pipeline", "durability", "job", "cli"],
    pipeline: ["sim", "durability", "job", "cli"],
    durability: ["engines", "sim", "job", "cli"],
    job: ["sim", "cli"],
  };
  return Object.entries(forbidden).map(([layer, above]) => ({
    files: [`src/${layer}/**/*.ts`],
    rules: {
      "no-restricted-imports": ["error", { patterns: [{ group: above.map((folder) => `../${folder}/*`), message: `src/${layer} may not import this layer (see the layering in eslint.config.js)` }] }],
      "no-restricted-syntax": ["error", { selector: `ImportExpression[source.value=/^\\.\\.\\/(${above.join("|")})\\//]`, message: `src/${layer} may not load this layer (see the layering in eslint.config.js)` }],
    },
  }));
}
