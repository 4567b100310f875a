/**
 * Validation of engine declarations with messages that name the engine, the field and the value
 * received ("engine `gpt4o`: Expected `concurrency` to be an integer >= 1, got `0`"). Values are
 * shown only for known fields, and URLs with their credentials redacted, so a key typed into the
 * wrong place is never echoed.
 */
import type { z } from "zod";
import { displayUrl } from "./display-url.js";
import { engineFields, moduleDeclarationSchema, yamlDeclarationSchema, type EngineDeclaration } from "./engine-fields.js";

export type Naming = "module" | "yaml";

export type DeclarationCheck = { ok: true; declaration: EngineDeclaration } | { ok: false; problems: string[] };

/** Validates one declaration; YAML entries use snake_case names and come back in camelCase. */
export function checkEngineDeclaration(input: unknown, naming: Naming): DeclarationCheck {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    return { ok: false, problems: [`Expected an engine to be a mapping of fields, got \`${shown(input)}\``] };
  }
  const schema = naming === "yaml" ? yamlDeclarationSchema : moduleDeclarationSchema;
  const result = schema.safeParse(input);
  if (!result.success) return { ok: false, problems: describeIssues(result.error.issues, input as Record<string, unknown>, naming) };
  const parsed = result.data as Record<string, unknown>;
  const declaration: Record<string, unknown> = {};
  for (const field of engineFields) {
    const value = parsed[naming === "yaml" ? field.yamlKey : field.key];
    if (value !== undefined) declaration[field.key] = value;
  }
  return { ok: true, declaration: declaration as unknown as EngineDeclaration };
}

/** A label for an entry in messages: its name when it has a usable one. */
export function engineLabel(input: unknown, position?: number): string {
  const name = typeof input === "object" && input !== null ? (input as Record<string, unknown>).name : undefined;
  const where = position === undefined ? "" : `engines[${position}] `;
  return typeof name === "string" && name !== "" ? `${where}(\`${name}\`)`.trim() : `${where}(unnamed)`.trim();
}

function describeIssues(issues: readonly z.core.$ZodIssue[], input: Record<string, unknown>, naming: Naming): string[] {
  const problems = new Set<string>();
  for (const issue of issues) {
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) problems.add(unknownField(key, naming));
      continue;
    }
    const fieldName = String(issue.path[0] ?? "");
    const field = engineFields.find((candidate) => (naming === "yaml" ? candidate.yamlKey : candidate.key) === fieldName);
    if (field === undefined) {
      problems.add(issue.message);
      continue;
    }
    const value = input[fieldName];
    const got = value === undefined ? "nothing" : `\`${field.key === "endpoint" ? shownEndpoint(value) : shown(value)}\``;
    problems.add(`Expected \`${fieldName}\` to be ${field.expected}, got ${got}`);
  }
  return [...problems];
}

function unknownField(key: string, naming: Naming): string {
  if (/key|token|secret|password/i.test(key) && !/env/i.test(key)) {
    const envField = naming === "yaml" ? "api_key_env" : "apiKeyEnv";
    return `Unknown field \`${key}\`: secrets never go in an engine declaration; put the key in an environment variable and name it with \`${envField}\``;
  }
  const known = engineFields.map((field) => (naming === "yaml" ? field.yamlKey : field.key)).join(", ");
  return `Unknown field \`${key}\` (known fields: ${known})`;
}

function shownEndpoint(value: unknown): string {
  if (typeof value === "string") return displayUrl(value);
  if (Array.isArray(value)) return `[${value.map((item) => (typeof item === "string" ? displayUrl(item) : shown(item))).join(", ")}]`;
  return shown(value);
}

function shown(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}
