/**
 * `chainette-stream view` on `--format parquet` runs against the simulator: every committed row of
 * every folder, paged forward and backward by cursor, is the record the same chain wrote in a JSONL
 * run (a simulator of the same seed answers the same request the same way, faults included: each
 * run gets its own, since a fault draw also counts a body's arrivals) and comes in the files' order, as
 * DuckDB reads them; a row's detail reads sealed shards; a run in progress, with sealed and staging
 * shards, pages and opens alike, and a cursor taken in a staging shard still holds once the run has
 * sealed it; a folder of `--shard I/N` runs reads each run.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator, type Simulator } from "../../src/sim/index.js";
import { readShards, runCli, startCli } from "../helpers/cli.js";
import { fetchRaw, startViewer, type ViewerProcess } from "../helpers/viewer.js";
import { waitFor } from "../helpers/wait-for.js";
import { duckdbRows } from "../io/duckdb-query.js";

const chainFile = "test/fixtures/chains/viewer-chain.ts";
const folders = ["flattened", "errors", "gate", "tag"];
const rows = 120;
let work: string;
let input: string;
const simulators: Simulator[] = [];
let finished: string;
/** Each folder's records of the same chain run with `--format jsonl`, by row id. */
const reference = new Map<string, Map<string, Record<string, unknown>>>();
let viewer: ViewerProcess;

interface Page { folder: string; lines: { cursor: string; text: string }[]; next: string; previous: string | null }
interface Detail { row_id: string; records: { folder: string; cursor: string; text: string }[]; failure: { rowId: string } | null }

/** A simulator of its own for one run (the same seed: the same replies and faults). */
async function simulatorUrl(): Promise<string> {
  const simulator = await startSimulator({ port: 0, profile: "instant", model: "sim-model", seed: 7, faults: { http500: 0.1, invalidJson: 0.05 } });
  simulators.push(simulator);
  return simulator.url;
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "view-parquet-"));
  input = join(work, "in.jsonl");
  writeFileSync(input, Array.from({ length: rows }, (_, n) => `${JSON.stringify({ n, text: `row ${n}` })}\n`).join(""));
  finished = join(work, "finished");
  const jsonl = join(work, "jsonl");
  // Small shards, so pages cross shard boundaries both ways.
  const args = (out: string, format: string): string[] => ["run", chainFile, "-i", input, "-o", out, "--quiet", "--format", format, "--max-lines-per-file", "17", "--circuit-breaker", "off"];
  const results = await Promise.all([runCli(args(finished, "parquet"), { env: { SIM_URL: await simulatorUrl() } }), runCli(args(jsonl, "jsonl"), { env: { SIM_URL: await simulatorUrl() } })]);
  for (const result of results) expect(result.code, result.stderr).toBe(0);
  for (const folder of folders) reference.set(folder, new Map(readShards(jsonl, folder).map((record) => [String(record.row_id), record])));
  viewer = await startViewer(finished);
}, 60_000);

afterAll(async () => {
  await viewer?.stop();
  await Promise.all(simulators.map((simulator) => simulator.close()));
  rmSync(work, { recursive: true, force: true });
});

/** The row ids of a folder's sealed shards in file order, as DuckDB reads them. */
async function sealedOrder(out: string, folder: string): Promise<string[]> {
  if (!readdirSync(join(out, folder)).some((name) => name.endsWith(".parquet"))) return [];
  const found = await duckdbRows(`SELECT row_id FROM read_parquet('${join(out, folder)}/*.parquet', filename = true, file_row_number = true) ORDER BY filename, file_row_number`);
  return found.map((row) => String(row.row_id));
}

/** The row ids of a folder's staging shards (a live Parquet run's shards not sealed yet), in order. */
function stagingOrder(out: string, folder: string): string[] {
  const staging = join(out, folder, ".staging");
  if (!existsSync(staging)) return [];
  return readdirSync(staging).sort().flatMap((name) => readFileSync(join(staging, name), "utf8").split("\n").filter((line) => line !== "").map((line) => String((JSON.parse(line) as { row_id: string }).row_id)));
}

function expectedRecords(folder: string, ids: readonly string[]): Record<string, unknown>[] {
  return ids.map((id) => reference.get(folder)?.get(id) ?? { missing: id });
}

async function pageForward(view: ViewerProcess, query: string, limit: number, after = "0:0"): Promise<{ lines: Page["lines"]; next: string }> {
  const lines: Page["lines"] = [];
  let page = await view.get<Page>(`/api/rows?${query}&after=${after}&limit=${limit}`);
  while (page.lines.length > 0) {
    lines.push(...page.lines);
    const next = await view.get<Page>(`/api/rows?${query}&after=${page.next}&limit=${limit}`);
    if (next.lines.length === 0) break;
    page = next;
  }
  return { lines, next: page.next };
}

async function pageBackward(view: ViewerProcess, query: string, limit: number): Promise<Page["lines"]> {
  const lines: Page["lines"] = [];
  let page = await view.get<Page>(`/api/rows?${query}&limit=${limit}`);
  for (;;) {
    lines.unshift(...page.lines);
    if (page.previous === null) return lines;
    page = await view.get<Page>(`/api/rows?${query}&before=${page.previous}&limit=${limit}`);
  }
}

const parsed = (lines: readonly { text: string }[]): unknown[] => lines.map((line) => JSON.parse(line.text) as unknown);

describe("view: a finished Parquet run", () => {
  it("pages every row of every folder forward and backward: the JSONL run's records, in the files' order", async () => {
    expect(readdirSync(join(finished, "flattened")).every((name) => name.endsWith(".parquet"))).toBe(true);
    for (const folder of folders) {
      const expected = expectedRecords(folder, await sealedOrder(finished, folder));
      expect(expected.length, folder).toBeGreaterThan(0);
      const forward = await pageForward(viewer, `folder=${folder}`, 7);
      expect(parsed(forward.lines), folder).toEqual(expected);
      for (const line of forward.lines) expect(line.cursor).toMatch(/^\d+:r\d+$/);
      const tail = await viewer.get<Page>(`/api/rows?folder=${folder}&limit=5`);
      expect(Object.keys(tail).sort()).toEqual(["folder", "lines", "next", "previous"]);
      expect(parsed(tail.lines), folder).toEqual(expected.slice(-5));
      expect(parsed(await pageBackward(viewer, `folder=${folder}`, 5)), folder).toEqual(expected);
    }
    expect(readdirSync(join(finished, "flattened")).length).toBeGreaterThan(3);
  });

  it("opens a row from a sealed shard's cursor and by id, with all its records", async () => {
    const page = await viewer.get<Page>("/api/rows?folder=errors&after=0:0&limit=1");
    const line = page.lines[0];
    if (line === undefined) throw new Error("no error row");
    const rowId = (JSON.parse(line.text) as { row_id: string }).row_id;
    const detail = await viewer.get<Detail>(`/api/row?folder=errors&cursor=${line.cursor}`);
    expect(detail.row_id).toBe(rowId);
    expect(detail.records.map((record) => record.folder)).toEqual(["errors", "gate"]);
    expect(detail.records.map((record) => JSON.parse(record.text) as unknown)).toEqual([reference.get("errors")?.get(rowId), reference.get("gate")?.get(rowId)]);
    expect(detail.failure?.rowId).toBe(rowId);
    const ok = [...(reference.get("flattened")?.keys() ?? [])].at(-1) as string;
    const okDetail = await viewer.get<Detail>(`/api/row?id=${ok}`);
    expect(okDetail.records.map((record) => record.folder)).toEqual(["flattened", "gate", "tag"]);
    expect(okDetail.records.map((record) => JSON.parse(record.text) as unknown)).toEqual(["flattened", "gate", "tag"].map((folder) => reference.get(folder)?.get(ok)));
    for (const record of okDetail.records) expect(record.cursor).toMatch(/^\d+:r\d+$/);
    for (const cursor of ["0:r9999", "0:5", "9:r0"]) expect((await fetchRaw(`${viewer.url}/api/row?folder=flattened&cursor=${cursor}`)).status, cursor).toBe(404);
  });
});

describe("view: a Parquet run in progress", () => {
  it("pages sealed and staging shards, opens rows in both, and a staging cursor holds once the run seals its shard", async () => {
    const out = join(work, "live");
    const gate = join(work, "live.gate");
    const run = startCli(["run", chainFile, "-i", input, "-o", out, "--quiet", "--format", "parquet", "--max-lines-per-file", "7", "--commit-interval", "20", "--circuit-breaker", "off"], {
      env: { SIM_URL: await simulatorUrl(), GATE_FILE: gate, GATE_FROM: "30" },
    });
    try {
      // 30 rows pass the gate: gate/ seals 000-003 (7 rows each) and stages 004.
      await waitFor(() => existsSync(join(out, "gate", "003.parquet")) && stagingOrder(out, "gate").length === 2, "the gated run's first 30 rows, sealed up to gate/003");
      const live = await startViewer(out);
      let after: string;
      let before: string[];
      try {
        for (const folder of ["gate", "flattened"]) {
          const ids = [...(await sealedOrder(out, folder)), ...stagingOrder(out, folder)];
          const expected = expectedRecords(folder, ids);
          const forward = await pageForward(live, `folder=${folder}`, 4);
          expect(parsed(forward.lines), folder).toEqual(expected);
          expect(forward.lines.some((line) => /^\d+:r\d+$/.test(line.cursor))).toBe(true);
          expect(forward.lines.some((line) => /^\d+:r\d+:\d+$/.test(line.cursor))).toBe(true);
          expect(parsed(await pageBackward(live, `folder=${folder}`, 3)), folder).toEqual(expected);
          if (folder === "gate") {
            expect(ids).toHaveLength(30);
            after = forward.next;
            before = ids;
            // A row in a sealed shard and one in the staging shard, opened by id.
            for (const id of [ids[3], ids[29]] as string[]) {
              const detail = await live.get<Detail>(`/api/row?id=${id}`);
              expect(detail.records.find((record) => record.folder === "gate")?.text).toBe(JSON.stringify(reference.get("gate")?.get(id)));
            }
          }
        }
        expect(after!).toMatch(/^4:r2:\d+$/);
        writeFileSync(gate, String(rows));
        expect((await run.done).code).toBe(0);
        expect(existsSync(join(out, "gate", ".staging"))).toBe(false);
        // The page that followed the tail goes on from where it was, though 004 is a Parquet file now.
        const rest = await pageForward(live, "folder=gate", 50, after!);
        expect([...before!, ...rest.lines.map((line) => (JSON.parse(line.text) as { row_id: string }).row_id)]).toEqual(await sealedOrder(out, "gate"));
      } finally {
        await live.stop();
      }
    } finally {
      run.child.kill("SIGKILL");
    }
  }, 60_000);
});

describe("view: a folder of --shard runs in Parquet", () => {
  it("lists each run and pages its rows", async () => {
    const root = join(work, "sharded");
    // The shards' rows are apart: they share one simulator.
    const url = await simulatorUrl();
    const results = await Promise.all(["0/2", "1/2"].map((shard) => runCli(["run", chainFile, "-i", input, "-o", root, "--quiet", "--format", "parquet", "--max-lines-per-file", "13", "--circuit-breaker", "off", "--shard", shard], { env: { SIM_URL: url } })));
    for (const result of results) expect(result.code, result.stderr).toBe(0);
    const multi = await startViewer(root);
    try {
      const { runs } = await multi.get<{ runs: { id: number; name: string; state: string; done: number }[] }>("/api/runs");
      expect(runs.map((run) => run.state)).toEqual(["complete", "complete"]);
      expect(runs.reduce((sum, run) => sum + run.done, 0)).toBe(rows);
      let seen = 0;
      for (const run of runs) {
        const out = join(root, run.name);
        const expected = expectedRecords("flattened", await sealedOrder(out, "flattened"));
        const forward = await pageForward(multi, `run=${run.id}&folder=flattened`, 9);
        expect(parsed(forward.lines)).toEqual(expected);
        expect(parsed(await pageBackward(multi, `run=${run.id}&folder=flattened`, 9))).toEqual(expected);
        seen += forward.lines.length;
        const id = (expected[0] as { row_id: string }).row_id;
        const detail = await multi.get<Detail>(`/api/row?run=${run.id}&id=${id}`);
        expect(detail.records.map((record) => record.folder)).toEqual(["flattened", "gate", "tag"]);
      }
      expect(seen).toBe(reference.get("flattened")?.size);
    } finally {
      await multi.stop();
    }
  }, 60_000);
});
