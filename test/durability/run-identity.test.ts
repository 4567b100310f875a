/**
 * What a resume compares (docs/resume.md, "The run's identity"): everything that changes a row's
 * output is refused when it changed (engine model and backend, `--columns`, the input's bytes),
 * everything else may change between sessions (endpoint, concurrency, batch and shard size,
 * `--limit`, the path the input is named by, its mtime), and ledgers written before identity
 * version 2 still resume.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Ledger } from "../../src/durability/ledger.js";
import { startSimulator, type Simulator } from "../../src/sim/index.js";
import { questionLines, readShards, repoRoot, runCli } from "../helpers/cli.js";
import { checkExactlyOnce } from "../helpers/exactly-once.js";

const chainFile = "test/fixtures/chains/qa-chain.ts";
const nodes = ["qa", "count", "keep", "split"];
let simulator: Simulator;
let other: Simulator;
let work: string;
let env: Record<string, string>;

beforeAll(async () => {
  simulator = await startSimulator({ port: 0, profile: "instant", model: "sim-model" });
  other = await startSimulator({ port: 0, profile: "instant", model: "other-model" });
  work = mkdtempSync(join(tmpdir(), "identity-"));
  env = { SIM_URL: simulator.url };
});
afterAll(async () => {
  await simulator.close();
  await other.close();
  rmSync(work, { recursive: true, force: true });
});

function chatRequests(sim: Simulator): number {
  return sim.stats().requests["/v1/chat/completions"] ?? 0;
}

function run(input: string, out: string, extra: readonly string[] = []): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return runCli(["run", chainFile, "-i", input, "-o", out, "--quiet", ...extra], { env });
}

function enginesYaml(name: string, fields: { backend: string; model: string; endpoint: string }): string {
  const path = join(work, name);
  writeFileSync(path, `engines:\n  - name: sim\n    backend: ${fields.backend}\n    model: ${fields.model}\n    endpoint: ${fields.endpoint}\n`);
  return path;
}

/** The rows done, by their `qa` records (every row has one; `keep` filters some out of flattened/). */
function rootsDone(out: string): number[] {
  checkExactlyOnce(out, nodes);
  return readShards(out, "qa").map((record) => Number(record.row_id)).sort((a, b) => a - b);
}

describe("what a resume refuses", () => {
  it("refuses an engine whose model or backend changed, naming the engine and the field", async () => {
    const input = join(work, "engines.jsonl");
    writeFileSync(input, questionLines(30));
    const out = join(work, "out-engines");
    expect((await run(input, out, ["--limit", "10"])).code).toBe(0);

    const otherModel = enginesYaml("other-model.yml", { backend: "vllm_api", model: "other-model", endpoint: `${other.url}/v1` });
    const switched = await run(input, out, ["--limit", "30", "--engines", otherModel, "--no-cache"]);
    expect(switched.code).toBe(2);
    expect(switched.stderr).toContain("engine `sim` model changed from sim-model to other-model");
    expect(chatRequests(other)).toBe(0);

    const otherBackend = enginesYaml("other-backend.yml", { backend: "openai_compatible", model: "sim-model", endpoint: `${simulator.url}/v1` });
    const before = chatRequests(simulator);
    const rebacked = await run(input, out, ["--limit", "30", "--engines", otherBackend, "--no-cache"]);
    expect(rebacked.code).toBe(2);
    expect(rebacked.stderr).toContain("engine `sim` backend changed from vllm_api to openai_compatible");
    expect(chatRequests(simulator)).toBe(before);
    expect(rootsDone(out)).toEqual(Array.from({ length: 10 }, (_, i) => i));
  });

  it("refuses a changed --columns", async () => {
    const input = join(work, "columns.jsonl");
    writeFileSync(input, Array.from({ length: 20 }, (_, i) => `${JSON.stringify({ text: `Question number ${i}: a?`, alt: `Question number ${i}: b?` })}\n`).join(""));
    const out = join(work, "out-columns");
    expect((await run(input, out, ["--limit", "5", "--columns", "text"])).code).toBe(0);
    const renamed = await run(input, out, ["--columns", "text=alt"]);
    expect(renamed.code).toBe(2);
    expect(renamed.stderr).toContain("--columns changed from `text` to `text=alt`");
    const dropped = await run(input, out);
    expect(dropped.code).toBe(2);
    expect(dropped.stderr).toContain("--columns changed from `text` to (all columns)");
    const same = await run(input, out, ["--columns", "text"]);
    expect(same.code, same.stderr).toBe(0);
    expect(rootsDone(out)).toHaveLength(20);
  });

  it("refuses an input whose bytes changed: a same-size edit in the middle (mtime put back), a file cut short", async () => {
    const input = join(work, "edited.jsonl");
    // ~200 KB: the edit sits well away from the first and last 64 KB.
    writeFileSync(input, questionLines(3000));
    // A whole second, so that putting it back after the edit restores it exactly.
    const mtime = Math.floor(Date.now() / 1000) - 60;
    utimesSync(input, mtime, mtime);
    const out = join(work, "out-edited");
    expect((await run(input, out, ["--limit", "5"])).code).toBe(0);
    const { size } = statSync(input);
    const text = readFileSync(input, "utf8");
    const middle = text.indexOf("Question number 1500:");
    writeFileSync(input, `${text.slice(0, middle)}Question Number${text.slice(middle + "Question number".length)}`);
    utimesSync(input, mtime, mtime);
    expect(statSync(input)).toMatchObject({ size, mtimeMs: mtime * 1000 });
    const edited = await run(input, out, ["--limit", "10"]);
    expect(edited.code).toBe(2);
    expect(edited.stderr).toContain(`the input ${input} changed (same size, different content)`);

    // Rows appended would run (docs/cache.md); a file cut short is refused.
    const shrunk = text.slice(0, text.lastIndexOf("\n", text.length - 2) + 1);
    writeFileSync(input, shrunk);
    const cut = await run(input, out, ["--limit", "10"]);
    expect(cut.code).toBe(2);
    expect(cut.stderr).toContain(`the input ${input} changed (${size} bytes then, ${shrunk.length} now)`);
  });
});

describe("what a resume accepts", () => {
  it("follows the input's real path and bytes: a relative path, a symlink and a touch resume", async () => {
    const input = join(work, "named.jsonl");
    writeFileSync(input, questionLines(40));
    const out = join(work, "out-named");
    expect((await run(input, out, ["--limit", "10"])).code).toBe(0);
    const viaRelative = await run(relative(repoRoot, input), out, ["--limit", "20"]);
    expect(viaRelative.code, viaRelative.stderr).toBe(0);
    const link = join(work, "link.jsonl");
    symlinkSync(input, link);
    const viaLink = await run(link, out, ["--limit", "30"]);
    expect(viaLink.code, viaLink.stderr).toBe(0);
    const later = new Date(Date.now() + 3_600_000);
    utimesSync(input, later, later);
    const touched = await run(input, out);
    expect(touched.code, touched.stderr).toBe(0);
    expect(rootsDone(out)).toEqual(Array.from({ length: 40 }, (_, i) => i));
  });

  it("lets the endpoint, concurrency, batch size, shard size and a larger --limit change; shard numbering goes on", async () => {
    const moved = await startSimulator({ port: 0, profile: "instant", model: "sim-model" });
    try {
      const input = join(work, "options.jsonl");
      writeFileSync(input, questionLines(200));
      const out = join(work, "out-options");
      expect((await run(input, out, ["--limit", "75", "--max-lines-per-file", "30", "--batch-size", "8", "--concurrency", "4"])).code).toBe(0);
      expect(readdirSync(join(out, "qa")).sort()).toEqual(["000.jsonl", "001.jsonl", "002.jsonl"]);
      const resumed = await run(input, out, ["--limit", "200", "--max-lines-per-file", "50", "--batch-size", "64", "--concurrency", "32", "--endpoint", `sim=${moved.url}/v1`]);
      expect(resumed.code, resumed.stderr).toBe(0);
      expect(chatRequests(moved)).toBeGreaterThanOrEqual(125);
      // 30 + 30 + 15 lines, then the third shard (15 lines, under the new 50) takes 35 more, then 50, 40.
      const qaShards = readdirSync(join(out, "qa")).sort();
      expect(qaShards).toEqual(["000.jsonl", "001.jsonl", "002.jsonl", "003.jsonl", "004.jsonl"]);
      expect(qaShards.map((name) => readFileSync(join(out, "qa", name), "utf8").split("\n").length - 1)).toEqual([30, 30, 50, 50, 40]);
      expect(rootsDone(out)).toEqual(Array.from({ length: 200 }, (_, i) => i));
      expect(readShards(out, "qa")).toHaveLength(200);
    } finally {
      await moved.close();
    }
  });

  it("resumes a ledger written by the first identity format (path as typed, mtime) after a touch, and upgrades it", async () => {
    const input = join(work, "legacy.jsonl");
    writeFileSync(input, questionLines(150 * 20));
    const named = relative(repoRoot, input);
    const out = join(work, "out-legacy");
    expect((await run(named, out, ["--limit", "10"])).code).toBe(0);

    // The identity as 0c2e432 wrote it: the input by the path typed, its mtime, and a hash of its
    // first and last 64 KB; no engines, no --columns, no version.
    const ledger = Ledger.open(join(out, "ledger.sqlite"));
    const current = ledger.getMeta<{ chain: string; chainFingerprint: string; nodes: Record<string, string>; format: string }>("identity");
    const info = statSync(input);
    const bytes = readFileSync(input);
    const sample = createHash("sha256").update(bytes.subarray(0, 65536)).update(bytes.subarray(Math.max(65536, bytes.length - 65536))).digest("hex").slice(0, 32);
    ledger.setMeta("identity", {
      chain: current?.chain, chainFingerprint: current?.chainFingerprint, nodes: current?.nodes, format: current?.format,
      input: { path: named, format: "jsonl", files: [{ path: named, size: info.size, mtimeMs: info.mtimeMs, sample }] },
    });
    ledger.close();

    const later = new Date(Date.now() + 3_600_000);
    utimesSync(input, later, later);
    const resumed = await run(named, out, ["--limit", "20"]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(rootsDone(out)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    const upgraded = Ledger.open(join(out, "ledger.sqlite"), { readonly: true });
    const identity = upgraded.getMeta<{ input: { version?: number; files: { path: string }[] }; engines?: Record<string, { model: string }> }>("identity");
    upgraded.close();
    expect(identity?.input.version).toBe(2);
    expect(identity?.input.files.map((file) => file.path)).toEqual([input]);
    expect(identity?.engines?.sim?.model).toBe("sim-model");

    // Still a guard: from the upgraded identity on, a changed model is refused.
    const otherModel = enginesYaml("legacy-other.yml", { backend: "vllm_api", model: "other-model", endpoint: `${other.url}/v1` });
    const switched = await run(named, out, ["--limit", "30", "--engines", otherModel, "--no-cache"]);
    expect(switched.code).toBe(2);
    expect(switched.stderr).toContain("engine `sim` model changed from sim-model to other-model");
  });

  it("refuses a first-format ledger whose input really changed", async () => {
    const input = join(work, "legacy-changed.jsonl");
    writeFileSync(input, questionLines(30));
    const out = join(work, "out-legacy-changed");
    expect((await run(input, out, ["--limit", "10"])).code).toBe(0);
    const ledger = Ledger.open(join(out, "ledger.sqlite"));
    const current = ledger.getMeta<Record<string, unknown>>("identity");
    const info = statSync(input);
    ledger.setMeta("identity", { ...current, engines: undefined, input: { path: input, format: "jsonl", files: [{ path: input, size: info.size, mtimeMs: info.mtimeMs, sample: "0".repeat(32) }] } });
    ledger.close();
    const refused = await run(input, out, ["--limit", "20"]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(`the input ${input} changed (same size, different content)`);
  });
});
