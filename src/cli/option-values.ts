import { ChainetteError } from "../errors.js";

/** Parses an integer option; messages name the option and the value received. */
export function parseInteger(option: string, text: string | undefined, fallback: number, minimum = 0): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < minimum) {
    throw new ChainetteError("USAGE", `Expected \`${option}\` to be an integer >= ${minimum}, got \`${text}\``);
  }
  return value;
}

export function parseRate(option: string, text: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0 || value > 1) throw new ChainetteError("USAGE", `Expected \`${option}\` to be a number from 0 to 1, got \`${text}\``);
  return value;
}

/** `a,b,new=old` -> [{name: a, from: a}, {name: b, from: b}, {name: new, from: old}]. */
export function parseColumns(text: string): { name: string; from: string }[] {
  return text.split(",").map((part) => {
    const [name, from] = part.split("=").map((piece) => piece.trim());
    if (!name || (part.includes("=") && !from)) throw new ChainetteError("USAGE", `Expected \`--columns\` to be a,b,new=old, got \`${text}\``);
    return { name, from: from ?? name };
  });
}
