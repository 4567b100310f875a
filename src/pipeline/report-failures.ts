/**
 * A pass-through stage before the fan-in that emits `row-failed` for each failed leaf row. The run
 * puts it in the pipeline only when a listener wants those events (`RunEvents.wants`).
 */
import type { RunEvent } from "./events.js";
import type { Row } from "./row.js";

export async function* reportFailures(source: AsyncIterable<Row[]>, emit: (event: RunEvent) => void): AsyncGenerator<Row[]> {
  for await (const leaves of source) {
    for (const leaf of leaves) {
      if (leaf.state !== "failed") continue;
      const failure = leaf.failure;
      emit({ type: "row-failed", rowId: leaf.id, node: failure?.node ?? "", errorType: failure?.type ?? "UNKNOWN", message: failure?.message ?? "" });
    }
    yield leaves;
  }
}
