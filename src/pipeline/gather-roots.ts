/**
 * The last stage of the pipeline: fan-in. Leaf rows arrive in any order; a root row (one source row
 * and every fan-out descendant) is complete once all its leaves have arrived, and only complete
 * roots go on to the commit sink: a root is the unit of commit, written and marked done together.
 */
import type { NodeRecord, Row, RootRow } from "./row.js";

/** A root row whose every leaf reached the end of the chain. */
export interface CompletedRoot {
  readonly root: RootRow;
  /** Its leaves: the row itself, or its fan-out descendants that reached the end. */
  readonly leaves: readonly Row[];
  /** Every node record the root made (the leaves', and those of rows that fanned out). */
  readonly records: readonly NodeRecord[];
  /** A lone leaf's records when they are all of its outputs: its flattened line reuses their text. */
  readonly leafRecords: readonly NodeRecord[] | undefined;
  /** Whether the root fanned out (its filtered leaves are then counted per root). */
  readonly fannedOut: boolean;
}

export async function* gatherRoots(source: AsyncIterable<Row[]>): AsyncGenerator<CompletedRoot[]> {
  for await (const leaves of source) {
    const completed: CompletedRoot[] = [];
    for (const leaf of leaves) {
      const root = leaf.root;
      if (root.pending === 1 && root.leaves === undefined) {
        // The common case: a root row with one leaf (no fan-out), complete as it arrives.
        root.pending = 0;
        const own = root.records === undefined;
        completed.push({ root, leaves: [leaf], records: own ? leaf.records : [...(root.records as NodeRecord[]), ...leaf.records], leafRecords: own ? leaf.records : undefined, fannedOut: false });
        continue;
      }
      (root.leaves ??= []).push(leaf);
      (root.records ??= []).push(...leaf.records);
      if (--root.pending > 0) continue;
      completed.push({ root, leaves: root.leaves, records: root.records, leafRecords: undefined, fannedOut: true });
    }
    if (completed.length > 0) yield completed;
  }
}
