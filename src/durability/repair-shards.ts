/**
 * `--repair`: committed shards that are damaged or missing (see `recoverShards`) are dropped, and
 * exactly the root rows they held are forgotten (their records removed from every other folder,
 * see `forget-roots.ts`), so the run does those rows again and ends as an uninterrupted run would.
 * Which roots a shard held is in the ledger's `shard_roots` (schema v3).
 */
import { ChainetteError } from "../errors.js";
import type { Ledger } from "./ledger.js";
import { forgetRoots, mergeRootRanges, type ForgetReport } from "./forget-roots.js";
import type { DamagedShard } from "./recover-shards.js";

export function repairShards(outDir: string, ledger: Ledger, damaged: readonly DamagedShard[], maxLinesPerFile: number): ForgetReport {
  if (damaged.length === 0) return { roots: 0, removed: {} };
  if (!ledger.rootsTracked()) {
    throw new ChainetteError("LEDGER", `--repair cannot tell which rows ${damaged[0]?.path ?? "the damaged shard"} held: this run's ledger was started by an older chainette-stream (ledger schema v2), which did not record the rows of each shard. Rerun with --fresh.`);
  }
  const ranges = damaged.flatMap(({ shard, path }) => {
    const recorded = ledger.shardRoots(shard.dir).get(shard.seq) ?? [];
    if (recorded.length === 0 && shard.lines > 0) throw new ChainetteError("LEDGER", `--repair cannot tell which rows ${path} held: the ledger has no record of them. Rerun with --fresh.`);
    return recorded;
  });
  return forgetRoots(outDir, ledger, { roots: mergeRootRanges(ranges), damaged: damaged.map(({ shard }) => shard), maxLinesPerFile });
}
