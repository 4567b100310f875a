import { DEFAULT_CIRCUIT_BREAKER, type CircuitBreakerOptions } from "../durability/circuit-breaker.js";
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

/**
 * `--circuit-breaker off|on|N|N:RATE`: `off` turns the breaker off; `N:RATE` stops the run when more
 * than RATE (0 to below 1) of the last N (>= 1) finished rows failed; `N` keeps the default rate.
 */
export function parseCircuitBreaker(text: string): CircuitBreakerOptions | false {
  if (text === "off") return false;
  if (text === "on") return DEFAULT_CIRCUIT_BREAKER;
  const match = /^(\d+)(?::(.+))?$/.exec(text.trim());
  const window = Number(match?.[1]);
  const rate = match?.[2] === undefined ? DEFAULT_CIRCUIT_BREAKER.rate : Number(match[2]);
  if (match === null || !Number.isInteger(window) || window < 1 || !Number.isFinite(rate) || rate < 0 || rate >= 1) {
    throw new ChainetteError("USAGE", `Expected \`--circuit-breaker\` to be off, on, or N:RATE with N an integer >= 1 and RATE a number from 0 to below 1 (e.g. 100:0.9), got \`${text}\``);
  }
  return { window, rate };
}

/** `a,b,new=old` -> [{name: a, from: a}, {name: b, from: b}, {name: new, from: old}]. */
export function parseColumns(text: string): { name: string; from: string }[] {
  return text.split(",").map((part) => {
    const [name, from] = part.split("=").map((piece) => piece.trim());
    if (!name || (part.includes("=") && !from)) throw new ChainetteError("USAGE", `Expected \`--columns\` to be a,b,new=old, got \`${text}\``);
    return { name, from: from ?? name };
  });
}
