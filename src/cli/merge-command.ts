/** `chainette-stream merge OUTDIR`: one run's layout from the shards of a job (docs/scale-out.md). */
import { parseArgs } from "node:util";
import { ChainetteError } from "../errors.js";
import { mergeShards } from "../job/merge-shards.js";
import { EXIT } from "./exit-codes.js";
import { formatCount } from "./format.js";

const MERGE_HELP = `Usage: chainette-stream merge OUTDIR [--json]

Once every shard of a job run with --shard I/N is complete, makes OUTDIR look like a one-machine
run: flattened/, errors/, one folder per node, graph.json and summary.json (summed over the shards).
Files are hard-linked from OUTDIR/shards/ (copied across filesystems), named <shard>-<file> so they
sort in row order. Refused, naming the shard, when one is missing, not complete, running, or of
another job. Safe to run again, also after a merge was killed.

  --json       print the merged summary.json on stdout
  -h, --help   show this help
`;

export const MERGE_OPTIONS = { json: { type: "boolean" }, help: { type: "boolean", short: "h" } } as const;

export function mergeCommand(argv: string[]): number {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: MERGE_OPTIONS });
  if (values.help) {
    process.stdout.write(MERGE_HELP);
    return EXIT.ok;
  }
  const outDir = positionals[0];
  if (outDir === undefined) throw new ChainetteError("USAGE", "merge needs OUTDIR (`chainette-stream merge --help` says more)");
  const result = mergeShards(outDir, ["chainette-stream", "merge", ...argv].join(" "));
  if (values.json) {
    process.stdout.write(`${JSON.stringify(result.summary, null, 2)}\n`);
    return EXIT.ok;
  }
  const { rows } = result.summary;
  const how = result.copied === 0 ? "hard-linked" : `${formatCount(result.files - result.copied)} hard-linked, ${formatCount(result.copied)} copied (another filesystem)`;
  process.stdout.write(
    `merged ${result.shards} shard(s) into ${outDir}: ${formatCount(rows.in)} rows (ok ${formatCount(rows.ok)}, failed ${formatCount(rows.failed)}, filtered ${formatCount(rows.filtered)}), ${formatCount(result.files)} files ${how}\n`,
  );
  return EXIT.ok;
}
