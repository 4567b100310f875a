/**
 * `{{path}}` templates with dotted paths, compiled once. No HTML escaping; objects and arrays
 * render as JSON; a missing value is a row-level error (the row, not the run, fails).
 */

export interface CompiledTemplate {
  readonly source: string;
  /** Every dotted path the template reads, e.g. `["text", "qa.answer"]`. */
  readonly paths: readonly string[];
  /** Renders against a row context; throws `TemplateValueError` when a path has no value. */
  render(context: Record<string, unknown>): string;
}

export class TemplateValueError extends Error {
  override readonly name = "TemplateValueError";
  constructor(readonly path: string) {
    super(`template field \`${path}\` has no value in this row`);
  }
}

const PLACEHOLDER = /\{\{\s*([A-Za-z_][\w-]*(?:\.[\w-]+)*)\s*\}\}/g;

export function compileTemplate(source: string): CompiledTemplate {
  const literals: string[] = [];
  const keys: string[][] = [];
  let last = 0;
  for (const match of source.matchAll(PLACEHOLDER)) {
    literals.push(source.slice(last, match.index));
    keys.push((match[1] ?? "").split("."));
    last = match.index + match[0].length;
  }
  literals.push(source.slice(last));
  const paths = keys.map((key) => key.join("."));

  return {
    source,
    paths,
    render(context) {
      let out = literals[0] ?? "";
      for (let i = 0; i < keys.length; i++) {
        out += renderValue(lookupPath(context, keys[i] ?? []), paths[i] ?? "") + (literals[i + 1] ?? "");
      }
      return out;
    },
  };
}

/** Reads a dotted path; `undefined` when any segment is missing. */
export function lookupPath(value: unknown, keys: readonly string[]): unknown {
  let current = value;
  for (const key of keys) {
    if (current === null || typeof current !== "object") return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

function renderValue(value: unknown, path: string): string {
  if (value === undefined) throw new TemplateValueError(path);
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") return value.toString();
  return JSON.stringify(value) ?? "null";
}
