/**
 * Loads `CHAIN_FILE[:EXPORT]` and picks the exported Chain (the named export, the only exported
 * Chain, the default export, or `module.exports` itself). The file loads the way Node treats it in
 * the user's own project, ESM or CommonJS: the extension decides (`.mjs`/`.mts` ESM, `.cjs`/`.cts`
 * CommonJS), else the `type` of the nearest package.json (`"module"`: ESM; absent or `"commonjs"`,
 * as `npm init -y` writes: CommonJS). Then:
 * - ESM JavaScript: `import()`; ESM TypeScript: tsx's ESM hooks, then `import()`;
 * - CommonJS JavaScript: `require()`; CommonJS TypeScript: tsx's CommonJS `require()`, in a namespace.
 * Loading CommonJS TypeScript through the ESM hooks is what failed with "Cannot require() ES
 * Module ... in a cycle" in an `npm init -y` project. Chains are recognised by shape
 * (`kind: "chain"`) and engines registered on `globalThis`, so a chain whose loader gave it its own
 * copy of the library (tsx's CommonJS namespace does) works the same.
 */
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, extname, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { Chain } from "../core/chain.js";
import { ChainetteError } from "../errors.js";

export type ModuleSystem = "esm" | "commonjs";

export function splitChainArgument(argument: string): { file: string; exportName: string | undefined } {
  const colon = argument.lastIndexOf(":");
  if (colon > 0 && !existsSync(argument)) {
    const exportName = argument.slice(colon + 1);
    if (/^[A-Za-z_$][\w$]*$/.test(exportName)) return { file: argument.slice(0, colon), exportName };
  }
  return { file: argument, exportName: undefined };
}

/** How Node treats `path`: by extension, else by the `type` of the nearest package.json. */
export function moduleSystemOf(path: string): ModuleSystem {
  const extension = extname(path);
  if (extension === ".mjs" || extension === ".mts") return "esm";
  if (extension === ".cjs" || extension === ".cts") return "commonjs";
  return packageTypeOf(dirname(path)) === "module" ? "esm" : "commonjs";
}

function packageTypeOf(directory: string): string | undefined {
  for (let current = directory; ; current = dirname(current)) {
    const manifest = join(current, "package.json");
    if (existsSync(manifest)) {
      try {
        const type = (JSON.parse(readFileSync(manifest, "utf8")) as { type?: unknown }).type;
        return typeof type === "string" ? type : undefined;
      } catch {
        return undefined; // Node fails on it too, with its own message, when the module loads
      }
    }
    if (dirname(current) === current) return undefined;
  }
}

async function importModule(path: string): Promise<Record<string, unknown>> {
  const typescript = /\.[cm]?tsx?$/.test(path);
  if (moduleSystemOf(path) === "esm") {
    if (typescript) (await import("tsx/esm/api")).register();
    return (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  }
  if (!typescript) return createRequire(import.meta.url)(path) as Record<string, unknown>;
  const { register } = await import("tsx/cjs/api");
  return register({ namespace: "chainette-stream" }).require(path, import.meta.url) as Record<string, unknown>;
}

export async function loadChain(argument: string): Promise<{ chain: Chain; file: string }> {
  const { file, exportName } = splitChainArgument(argument);
  const path = resolve(file);
  if (!existsSync(path)) throw new ChainetteError("USAGE", `chain file ${file} does not exist`);
  let module: Record<string, unknown>;
  try {
    module = await importModule(path);
  } catch (error) {
    if (error instanceof ChainetteError) throw error;
    throw new ChainetteError("USAGE", `cannot load chain file ${file}: ${(error as Error).message}`, { cause: error });
  }
  if (isChain(module)) return { chain: module, file: path }; // CommonJS `module.exports = chain`
  const chains = Object.entries(module).filter(([, value]) => isChain(value)) as [string, Chain][];
  if (exportName !== undefined) {
    const chain = module[exportName];
    if (!isChain(chain)) {
      throw new ChainetteError("USAGE", `${file} has no exported Chain named \`${exportName}\` (exported chains: ${chains.map(([name]) => name).join(", ") || "none"})`);
    }
    return { chain, file: path };
  }
  const named = chains.filter(([name]) => name !== "default");
  const fallback = module.default;
  if (named.length === 1 && named[0]) return { chain: named[0][1], file: path };
  if (isChain(fallback)) return { chain: fallback, file: path };
  if (named.length === 0) throw new ChainetteError("USAGE", `${file} exports no Chain`);
  throw new ChainetteError("USAGE", `${file} exports several chains (${named.map(([name]) => name).join(", ")}); pick one with ${file}:NAME`);
}

function isChain(value: unknown): value is Chain {
  return typeof value === "object" && value !== null && (value as { kind?: unknown }).kind === "chain";
}
