/**
 * Where a parsed JSON value holds a number that is not finite. `JSON.parse` turns a number too
 * large for a double (`6e692`, which a grammar-constrained model can write: the JSON grammar
 * allows any exponent) into `Infinity`, and `JSON.stringify` would write that as `null`: the
 * output would silently lose the value. Such a reply is invalid, like any other schema violation.
 */

/** The path (`$.a[2].b`) of the first non-finite number in `value`, or undefined. Iterative. */
export function nonFinitePath(value: unknown): string | undefined {
  const stack: { value: unknown; path: string }[] = [{ value, path: "$" }];
  const seen = new Set<object>();
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    const current = item.value;
    if (typeof current === "number") {
      if (!Number.isFinite(current)) return item.path;
    } else if (typeof current === "object" && current !== null && !seen.has(current)) {
      seen.add(current);
      if (Array.isArray(current)) {
        for (let index = current.length - 1; index >= 0; index--) stack.push({ value: current[index], path: `${item.path}[${index}]` });
      } else {
        const entries = Object.entries(current as Record<string, unknown>);
        for (let index = entries.length - 1; index >= 0; index--) {
          const [key, child] = entries[index] ?? ["", undefined];
          stack.push({ value: child, path: /^[A-Za-z_$][\w$]*$/.test(key) ? `${item.path}.${key}` : `${item.path}[${JSON.stringify(key)}]` });
        }
      }
    }
  }
  return undefined;
}
