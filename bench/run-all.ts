/**
 * `npm run bench`: every benchmark in sequence, each printing its table. Sizes are the issue
 * targets (1M rows, 50k LLM rows); expect about 20 minutes on 2 cores. Run one file alone for less.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";

const benches = ["pipeline-apply.ts", "llm-throughput.ts", "fault-mix.ts", "resume-restart.ts", "io-formats.ts", "sim-capacity.ts", "soak-crash.ts"];
for (const bench of benches) {
  console.log(`\n## ${bench}\n`);
  const result = spawnSync(process.execPath, ["--import", "tsx", join(import.meta.dirname, bench)], { stdio: "inherit" });
  if (result.status !== 0) process.exitCode = 1;
}
