/**
 * What a kill costs with the response cache (docs/cache.md): every accepted reply is stored at the
 * end of the event-loop turn it arrived in, so after a SIGKILL the resume takes the answered but uncommitted rows'
 * replies from the cache, and re-sends about the requests that were in flight (here at most the
 * engine's concurrency per kill). Commits are 10 s apart here, so no session commits before its
 * kill: without the cache, each kill would re-send every request its session had answered.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator, type Simulator } from "../../src/sim/index.js";
import { questionLines, readShards, runCli, startCli } from "../helpers/cli.js";
import { checkExactlyOnce } from "../helpers/exactly-once.js";
import { waitFor } from "../helpers/wait-for.js";

const rows = 100;
const concurrency = 8;
const kills = 5;
const nodes = ["outline", "draft", "length", "polish"];
let simulator: Simulator;
let work: string;

beforeAll(async () => {
  // About 50 ms a reply with 8 in flight: a session gets its 40 replies in well under a second.
  simulator = await startSimulator({ port: 0, model: "sim-model", timeScale: 10 });
  work = mkdtempSync(join(tmpdir(), "cache-crash-cost-"));
});
afterAll(async () => {
  await simulator.close();
  rmSync(work, { recursive: true, force: true });
});

const arrived = (): number => simulator.stats().requests["/v1/chat/completions"] ?? 0;

describe("five SIGKILLs during a run", () => {
  it("re-send no more requests than were in flight at the kills", async () => {
    const input = join(work, "questions.jsonl");
    writeFileSync(input, questionLines(rows));
    const out = join(work, "out");
    const args = ["run", "test/fixtures/chains/three-step-chain.ts", "-i", input, "-o", out, "--quiet", "--commit-interval", "10000", "--batch-size", "8"];
    const env = { SIM_URL: simulator.url, SIM_CONCURRENCY: String(concurrency) };
    for (let kill = 0; kill < kills; kill++) {
      const session = startCli(args, { env });
      const start = simulator.stats().completed;
      // Killed once it has 40 new replies: mid-run, with requests in flight.
      await waitFor(() => simulator.stats().completed - start >= 40, `session ${kill + 1} to get 40 replies`);
      session.child.kill("SIGKILL");
      const result = await session.done;
      expect(result.signal, result.stderr).toBe("SIGKILL");
    }
    const finished = await runCli(args, { env });
    expect(finished.code, finished.stderr).toBe(0);
    checkExactlyOnce(out, nodes);
    expect(readShards(out, "polish")).toHaveLength(rows);

    // Every question differs and every step is greedy: 3 distinct requests a row.
    const resent = arrived() - 3 * rows;
    // Without the cache this is every reply the five sessions got (over 300 in a trial with --no-cache).
    expect(resent).toBeLessThanOrEqual(kills * concurrency);
    expect(resent).toBeGreaterThanOrEqual(0);
  });
});
