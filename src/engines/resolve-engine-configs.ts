/**
 * The engines a run uses: the chain module's `registerEngine` declarations, replaced entry by entry
 * by the engines YAML (same name: the YAML entry wins as a whole), then `--endpoint NAME=URL`
 * overrides (repeat a NAME to list several endpoints). A declaration without `backend` is
 * `vllm_api` when it has an endpoint and `vllm_local` otherwise.
 */
import { ChainetteError } from "../errors.js";
import { displayUrl } from "./display-url.js";
import type { EngineConfig } from "./engine.js";
import type { EngineDeclaration } from "./engine-fields.js";
import { registeredEngines } from "./engine-registry.js";

export interface ResolveEngineConfigsOptions {
  /** Declarations from the chain module. @default registeredEngines() */
  registered?: readonly EngineDeclaration[];
  /** Declarations from `--engines FILE` (`loadEnginesYaml`). @default [] */
  yaml?: readonly EngineDeclaration[];
  /** `--endpoint` values, each `NAME=URL`. @default [] */
  endpointOverrides?: readonly string[];
}

export function resolveEngineConfigs(options: ResolveEngineConfigsOptions = {}): EngineConfig[] {
  const byName = new Map<string, EngineDeclaration>();
  for (const declaration of options.registered ?? registeredEngines()) byName.set(declaration.name, { ...declaration });
  for (const declaration of options.yaml ?? []) byName.set(declaration.name, { ...declaration });

  const overrides = new Map<string, string[]>();
  for (const text of options.endpointOverrides ?? []) {
    const { name, url } = parseEndpointOverride(text);
    if (!byName.has(name)) {
      const known = [...byName.keys()].join(", ") || "none";
      throw new ChainetteError("USAGE", `--endpoint names engine \`${name}\`, which is not declared (declared engines: ${known})`);
    }
    overrides.set(name, [...(overrides.get(name) ?? []), url]);
  }
  for (const [name, urls] of overrides) {
    const declaration = byName.get(name);
    if (declaration !== undefined) declaration.endpoint = urls.length === 1 ? (urls[0] ?? "") : urls;
  }
  return [...byName.values()].map((declaration) => ({
    ...declaration,
    backend: declaration.backend ?? (declaration.endpoint === undefined ? "vllm_local" : "vllm_api"),
  }));
}

/** Splits one `--endpoint NAME=URL` value. Throws `ChainetteError("USAGE")`. */
export function parseEndpointOverride(text: string): { name: string; url: string } {
  const separator = text.indexOf("=");
  const name = separator > 0 ? text.slice(0, separator).trim() : "";
  const url = separator > 0 ? text.slice(separator + 1).trim() : "";
  let valid = false;
  try {
    valid = /^https?:$/.test(new URL(url).protocol);
  } catch {
    valid = false;
  }
  if (name === "" || !valid) {
    throw new ChainetteError("USAGE", `Expected \`--endpoint\` to be NAME=URL with an http(s) URL, got \`${displayUrl(text)}\``);
  }
  return { name, url };
}
