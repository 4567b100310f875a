/**
 * The process-wide engine registry. It lives on `globalThis` under
 * `Symbol.for("chainette-stream.engines")`, so a chain module that loads its own copy of the
 * library registers into the same registry the CLI reads.
 */
import { ChainetteError } from "../errors.js";
import { checkEngineDeclaration, engineLabel } from "./engine-declaration.js";
import type { EngineDeclaration } from "./engine-fields.js";

const registryKey = Symbol.for("chainette-stream.engines");

function registry(): Map<string, EngineDeclaration> {
  const holder = globalThis as unknown as Record<symbol, Map<string, EngineDeclaration> | undefined>;
  let engines = holder[registryKey];
  if (engines === undefined) {
    engines = new Map();
    holder[registryKey] = engines;
  }
  return engines;
}

/**
 * Declares an engine for the chains of this process. Registering a name again replaces the earlier
 * declaration (a module loaded twice registers the same thing twice). The declaration is validated
 * now; a bad one throws `ChainetteError("ENGINE_CONFIG")` naming every bad field.
 */
export function registerEngine(declaration: EngineDeclaration): void {
  const check = checkEngineDeclaration(declaration, "module");
  if (!check.ok) {
    throw new ChainetteError(
      "ENGINE_CONFIG",
      `Invalid engine ${engineLabel(declaration)} in registerEngine:\n  ${check.problems.join("\n  ")}`,
    );
  }
  registry().set(check.declaration.name, check.declaration);
}

/** Copies of the registered declarations, in registration order. */
export function registeredEngines(): EngineDeclaration[] {
  return [...registry().values()].map((declaration) => ({ ...declaration }));
}

/** Empties the registry (tests, and tools that load several chain modules one after another). */
export function clearRegisteredEngines(): void {
  registry().clear();
}
