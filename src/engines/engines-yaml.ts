/**
 * The engines YAML file: an `engines:` list whose entries use the field names of the Chainette
 * README (name, backend, model, endpoint, dtype, gpu_memory_utilization, enable_reasoning, devices,
 * lazy) plus ours (concurrency, timeout_ms, max_retries, api_key_env). Every bad entry is reported
 * at once, each with its position, name and field.
 */
import { readFile } from "node:fs/promises";
import { ChainetteError } from "../errors.js";
import { yaml } from "../load-on-demand.js";
import { checkEngineDeclaration, engineLabel } from "./engine-declaration.js";
import type { EngineDeclaration } from "./engine-fields.js";

/** Reads and validates an engines YAML file. Throws `ChainetteError("ENGINE_CONFIG")`. */
export async function loadEnginesYaml(path: string): Promise<EngineDeclaration[]> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    throw new ChainetteError("ENGINE_CONFIG", `Cannot read engines file ${path}: ${String(code ?? error)}`, { cause: error });
  }
  return parseEnginesYaml(text, path);
}

/** Validates the text of an engines YAML file; `source` names it in messages. */
export function parseEnginesYaml(text: string, source = "engines YAML"): EngineDeclaration[] {
  let document: unknown;
  try {
    document = yaml().parse(text);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ChainetteError("ENGINE_CONFIG", `${source} is not valid YAML: ${reason}`, { cause: error });
  }
  const entries = (document as { engines?: unknown } | null)?.engines;
  if (!Array.isArray(entries)) {
    throw new ChainetteError("ENGINE_CONFIG", `Expected ${source} to hold an \`engines:\` list, got ${describe(document)}`);
  }
  const problems: string[] = [];
  const declarations: EngineDeclaration[] = [];
  const seen = new Map<string, number>();
  entries.forEach((entry: unknown, position) => {
    const name = (entry as { name?: unknown } | null)?.name;
    const earlier = typeof name === "string" ? seen.get(name) : undefined;
    if (earlier !== undefined) problems.push(`${engineLabel(entry, position)}: the name is already used by engines[${earlier}]`);
    else if (typeof name === "string") seen.set(name, position);
    const check = checkEngineDeclaration(entry, "yaml");
    if (!check.ok) {
      for (const problem of check.problems) problems.push(`${engineLabel(entry, position)}: ${problem}`);
    } else if (earlier === undefined) {
      declarations.push(check.declaration);
    }
  });
  if (problems.length > 0) {
    throw new ChainetteError("ENGINE_CONFIG", `Invalid engines in ${source}:\n  ${problems.join("\n  ")}`);
  }
  return declarations;
}

function describe(document: unknown): string {
  if (document === null || document === undefined) return "an empty document";
  if (Array.isArray(document)) return "a list (put it under `engines:`)";
  if (typeof document === "object") return `a mapping with keys ${Object.keys(document).join(", ") || "(none)"}`;
  return `a ${typeof document}`;
}
