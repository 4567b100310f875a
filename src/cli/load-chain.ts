/**
 * Loads `CHAIN_FILE[:EXPORT]`: a `.ts` module through tsx, a `.js` module as is, and picks the
 * exported Chain (the named export, the only exported Chain, or the default export). Chains are
 * recognised by shape (`kind: "chain"`), so a module that bundles its own copy of the library works.
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { Chain } from "../core/chain.js";
import { ChainetteError } from "../errors.js";

export function splitChainArgument(argument: string): { file: string; exportName: string | undefined } {
  const colon = argument.lastIndexOf(":");
  if (colon > 0 && !existsSync(argument)) {
    const exportName = argument.slice(colon + 1);
    if (/^[A-Za-z_$][\w$]*$/.test(exportName)) return { file: argument.slice(0, colon), exportName };
  }
  return { file: argument, exportName: undefined };
}

export async function loadChain(argument: string): Promise<{ chain: Chain; file: string }> {
  const { file, exportName } = splitChainArgument(argument);
  const path = resolve(file);
  if (!existsSync(path)) throw new ChainetteError("USAGE", `chain file ${file} does not exist`);
  if (/\.[cm]?tsx?$/.test(path)) {
    const { register } = await import("tsx/esm/api");
    register();
  }
  let module: Record<string, unknown>;
  try {
    module = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  } catch (error) {
    if (error instanceof ChainetteError) throw error;
    throw new ChainetteError("USAGE", `cannot load chain file ${file}: ${(error as Error).message}`, { cause: error });
  }
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
