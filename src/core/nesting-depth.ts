/**
 * How deeply a row or an output nests, measured without recursion. Everything downstream walks
 * values recursively (`JSON.stringify` overflows the stack at a few thousand levels, zod's
 * recursive schemas sooner, the Parquet writer too), so a value nested deeper than
 * `MAX_NESTING_DEPTH` is stopped where it enters the pipeline and becomes its row's error record,
 * instead of a stack overflow that would fail the run, and every resume of it, on that row.
 *
 * Depth counts objects and arrays: `{"a":1}` is 1 level, `{"a":[[1]]}` 3. A cyclic value (an apply
 * can return one) never ends, so it is reported as such rather than as "too deep".
 */

/**
 * The deepest nesting a source row or a node output may have. Far above any real data (a JSON
 * document of real records rarely passes 20), far below where a recursive walk runs out of stack.
 */
export const MAX_NESTING_DEPTH = 1000;

/**
 * A JSON text shorter than this cannot nest deeper than `MAX_NESTING_DEPTH` (each level takes an
 * opening and a closing bracket), so a decoded row that short needs no walk at all.
 */
export const MIN_TEXT_LENGTH_TO_CHECK = 2 * (MAX_NESTING_DEPTH + 1);

/**
 * Why `value` cannot be written (it nests deeper than `limit` levels, or refers to itself), in
 * words that follow "the row" or "the output"; undefined when it is fine. Iterative: an explicit
 * stack, never the call stack.
 */
export function nestingProblem(value: unknown, limit = MAX_NESTING_DEPTH): string | undefined {
  if (!nestsDeeperThan(value, limit)) return undefined;
  return isCircular(value as object, limit) ? "refers to itself (a circular structure cannot be written as JSON)" : `nests deeper than ${limit} levels`;
}

/** True when `value` has more than `limit` levels of objects and arrays. */
export function nestsDeeperThan(value: unknown, limit = MAX_NESTING_DEPTH): boolean {
  if (typeof value !== "object" || value === null) return false;
  let deep = true;
  try {
    deep = walk(value, limit);
  } finally {
    // A walk that found nothing too deep popped every entry; otherwise drop what it left.
    if (deep) {
      pendingValues.length = 0;
      pendingDepths.length = 0;
    }
  }
  return deep;
}

// The walk's stack, shared by every call (a walk is synchronous and never reenters), so a check
// allocates nothing on the hot path; left empty after each call so it holds no row's values.
const pendingValues: object[] = [];
const pendingDepths: number[] = [];

function walk(value: object, limit: number): boolean {
  let current = value;
  let depth = 1;
  for (;;) {
    if (depth > limit) return true;
    if (Array.isArray(current)) {
      for (const item of current as unknown[]) {
        if (typeof item === "object" && item !== null) {
          pendingValues.push(item);
          pendingDepths.push(depth + 1);
        }
      }
    } else {
      for (const key in current) {
        const item = (current as Record<string, unknown>)[key];
        if (typeof item === "object" && item !== null) {
          pendingValues.push(item);
          pendingDepths.push(depth + 1);
        }
      }
    }
    const next = pendingValues.pop();
    if (next === undefined) return false;
    current = next;
    depth = pendingDepths.pop() ?? depth;
  }
}

/** True when some object or array of `value` contains itself, looking no deeper than `limit` + 1 levels. */
function isCircular(value: object, limit: number): boolean {
  const path: object[] = [value];
  const children: Iterator<unknown>[] = [childrenOf(value)];
  const onPath = new Set<object>(path);
  while (path.length > 0) {
    const next = children[children.length - 1]?.next();
    if (next === undefined || next.done === true) {
      const done = path.pop();
      if (done !== undefined) onPath.delete(done);
      children.pop();
      continue;
    }
    const child = next.value;
    if (typeof child !== "object" || child === null) continue;
    if (onPath.has(child)) return true;
    if (path.length > limit) continue;
    path.push(child);
    onPath.add(child);
    children.push(childrenOf(child));
  }
  return false;
}

function childrenOf(value: object): Iterator<unknown> {
  return (Array.isArray(value) ? (value as unknown[]) : Object.values(value))[Symbol.iterator]();
}
