/**
 * `chainette-stream view` against real runs on the simulator: the JSON API agrees with what the run
 * wrote (counts, rollups, error groups, every shard line paged forward and backward by cursor, a
 * row's records), a run held alive in another process reads as running and moves over server-sent
 * events, a folder of run folders lists each run, and the server serves nothing but its own files
 * and answers nothing but GET.
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SCHEMA_VERSION } from "../../src/durability/ledger-schema.js";
import { RunView, STALLED_AFTER_MS } from "../../src/job/run-view.js";
import { startSimulator, type Simulator } from "../../src/sim/index.js";
import { readShards, runCli, startCli } from "../helpers/cli.js";
import { fetchRaw, startViewer, type ViewerProcess } from "../helpers/viewer.js";
import { lineCount, waitFor } from "../helpers/wait-for.js";

const chainFile = "test/fixtures/chains/viewer-chain.ts";
const rows = 120;
let work: string;
let input: string;
let simulator: Simulator;
let finished: string;
let viewer: ViewerProcess;

interface State { state: string; why: string | null; folders: string[]; holder: { live: boolean } | null; tiles: { done: number; total: number | null; ok: number; failed: number; commits: number }; node_table: { node: string; ok: number; failed: number }[] }
interface Page { lines: { cursor: string; text: string }[]; next: string; previous: string | null }

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "view-"));
  input = join(work, "in.jsonl");
  writeFileSync(input, Array.from({ length: rows }, (_, n) => `${JSON.stringify({ n, text: `row ${n}` })}\n`).join(""));
  simulator = await startSimulator({ port: 0, profile: "instant", model: "sim-model", seed: 7, faults: { http500: 0.1, invalidJson: 0.05 } });
  finished = join(work, "finished");
  // Small shards, so paging crosses shard boundaries both ways.
  const result = await runCli(["run", chainFile, "-i", input, "-o", finished, "--quiet", "--max-lines-per-file", "17", "--circuit-breaker", "off"], { env: { SIM_URL: simulator.url } });
  expect(result.code, result.stderr).toBe(0);
  viewer = await startViewer(finished);
}, 60_000);

afterAll(async () => {
  await viewer?.stop();
  await simulator?.close();
  rmSync(work, { recursive: true, force: true });
});

describe("view: a finished run", () => {
  it("states, counts and rollups agree with what the run wrote", async () => {
    const flattened = readShards(finished, "flattened");
    const errors = readShards(finished, "errors");
    expect(errors.length).toBeGreaterThan(0);
    const state = await viewer.get<State>("/api/state");
    expect(state).toMatchObject({ state: "complete", why: null, holder: null, tiles: { done: rows, total: rows, ok: flattened.length, failed: errors.length } });
    expect(state.folders).toEqual(["flattened", "errors", "gate", "tag"]);
    expect(state.node_table.find((node) => node.node === "tag")).toMatchObject({ ok: flattened.length, failed: errors.length });
    const { points } = await viewer.get<{ points: { rows: number; ok: number; failed: number; requests: number; retries: number }[] }>("/api/rollups");
    expect(points.length).toBeGreaterThan(0);
    const sum = (pick: (point: (typeof points)[number]) => number): number => points.reduce((total, point) => total + pick(point), 0);
    expect(sum((point) => point.rows)).toBe(rows);
    expect(sum((point) => point.ok)).toBe(flattened.length);
    expect(sum((point) => point.failed)).toBe(errors.length);
    expect(sum((point) => point.requests)).toBe(rows);
  });

  it("groups errors by type and pages each group by cursor", async () => {
    const errors = readShards(finished, "errors") as { row_id: string; error: { type: string } }[];
    const { groups } = await viewer.get<{ groups: { node: string; type: string; count: number; sample_row_id: string }[] }>("/api/errors");
    const byType = new Map<string, number>();
    for (const record of errors) byType.set(record.error.type, (byType.get(record.error.type) ?? 0) + 1);
    expect(new Map(groups.map((group) => [group.type, group.count]))).toEqual(byType);
    expect(groups.length).toBe(2);
    for (const group of groups) {
      const ids: string[] = [];
      let after: string | null = null;
      do {
        const query: string = `/api/failures?node=${group.node}&type=${group.type}&limit=3${after === null ? "" : `&after=${encodeURIComponent(after)}`}`;
        const page: { failures: { rowId: string; type: string }[]; next: string | null } = await viewer.get(query);
        for (const failure of page.failures) expect(failure.type).toBe(group.type);
        ids.push(...page.failures.map((failure) => failure.rowId));
        after = page.next;
      } while (after !== null);
      const expected = errors.filter((record) => record.error.type === group.type).map((record) => record.row_id).sort((a, b) => Number(a) - Number(b));
      expect(ids).toEqual(expected);
      expect(ids[0]).toBe(group.sample_row_id);
    }
  });

  it("pages every shard line forward and backward by cursor, and the tail is the last lines", async () => {
    for (const folder of ["flattened", "errors", "tag"]) {
      const expected = readShards(finished, folder).map((record) => JSON.stringify(record));
      const forward: string[] = [];
      let page = await viewer.get<Page>(`/api/rows?folder=${folder}&after=0:0&limit=7`);
      while (page.lines.length > 0) {
        forward.push(...page.lines.map((line) => line.text));
        page = await viewer.get<Page>(`/api/rows?folder=${folder}&after=${page.next}&limit=7`);
      }
      expect(forward).toEqual(expected);
      const backward: string[] = [];
      let back = await viewer.get<Page>(`/api/rows?folder=${folder}&limit=5`);
      expect(back.lines.map((line) => line.text)).toEqual(expected.slice(-5));
      for (;;) {
        backward.unshift(...back.lines.map((line) => line.text));
        if (back.previous === null) break;
        back = await viewer.get<Page>(`/api/rows?folder=${folder}&before=${back.previous}&limit=5`);
      }
      expect(backward).toEqual(expected);
    }
  });

  it("opens a row from its cursor with all its records, and its failure", async () => {
    const page = await viewer.get<Page>("/api/rows?folder=errors&after=0:0&limit=1");
    const line = page.lines[0];
    if (line === undefined) throw new Error("no error line");
    const rowId = (JSON.parse(line.text) as { row_id: string }).row_id;
    const detail = await viewer.get<{ row_id: string; records: { folder: string; text: string }[]; failure: { rowId: string } | null }>(`/api/row?folder=errors&cursor=${line.cursor}`);
    expect(detail.row_id).toBe(rowId);
    expect(detail.records.map((record) => record.folder)).toEqual(["errors", "gate"]);
    expect(detail.failure?.rowId).toBe(rowId);
    const ok = (readShards(finished, "flattened")[0] as { row_id: string }).row_id;
    const okDetail = await viewer.get<{ records: { folder: string; text: string }[]; failure: unknown }>(`/api/row?id=${ok}`);
    expect(okDetail.records.map((record) => record.folder)).toEqual(["flattened", "gate", "tag"]);
    expect(okDetail.failure).toBeNull();
    expect((await fetchRaw(`${viewer.url}/api/row?folder=flattened&cursor=0:5`)).status).toBe(404);
  });

  it("serves only its own files, read-only, with a strict CSP, to its own host name", async () => {
    const index = await fetchRaw(`${viewer.url}/`);
    expect(index.status).toBe(200);
    expect(index.headers["content-security-policy"]).toMatch(/default-src 'none'; script-src 'self'/);
    expect(index.body).toContain('<script type="module" src="/viewer.js">');
    expect((await fetchRaw(`${viewer.url}/viewer.js`)).body).toContain("textContent");
    for (const path of ["/../ledger.sqlite", "/%2e%2e/ledger.sqlite", "/viewer/../../package.json", "/..%2f..%2fpackage.json", "//etc/passwd", "/ledger.sqlite", "/api/../ledger.sqlite", "/viewer.js%00.html", "/viewer.js/"]) {
      const answer = await fetchRaw(`${viewer.url}${path}`);
      expect(answer.status, path).toBe(404);
      expect(answer.body).not.toContain("SQLite format");
      expect(answer.headers["content-security-policy"]).toBeDefined();
    }
    expect((await fetchRaw(`${viewer.url}/api/rows?folder=..%2Fledger.sqlite`)).status).toBe(404);
    for (const method of ["POST", "PUT", "DELETE"]) expect((await fetchRaw(`${viewer.url}/api/state`, { method })).status).toBe(405);
    // DNS rebinding: a page on another name that resolves here gets nothing.
    expect((await fetchRaw(`${viewer.url}/api/state`, { headers: { host: "attacker.example:80" } })).status).toBe(421);
  });
});

describe("view: a run in progress and a folder of runs", () => {
  it("reads a live run as running and pushes its progress over server-sent events until it completes", async () => {
    const out = join(work, "live");
    const gate = join(work, "live.gate");
    const run = startCli(["run", chainFile, "-i", input, "-o", out, "--quiet", "--commit-interval", "20"], { env: { SIM_URL: simulator.url, GATE_FILE: gate, GATE_FROM: "30" } });
    try {
      await waitFor(() => lineCount(join(out, "gate", "000.jsonl")) >= 30, "the gated run's first 30 rows");
      const live = await startViewer(out);
      try {
        let state = await live.get<State>("/api/state");
        while (state.tiles.done < 30) {
          await sleep(20);
          state = await live.get<State>("/api/state");
        }
        expect(state).toMatchObject({ state: "running", holder: { live: true }, tiles: { done: 30 } });
        // The same run seen two minutes on with nothing committed meanwhile: stalled, and why.
        const later = new RunView(out).snapshot(Date.now() + 2 * STALLED_AFTER_MS);
        expect(later.state).toBe("stalled");
        expect(later.why).toMatch(/^no rows committed for \d+ s while the run's process lives/);
        const seen: State[] = [];
        const events = await openEvents(`${live.url}/api/events`, (snapshot) => seen.push(snapshot));
        try {
          await waitFor(() => seen.length >= 1, "the first state event");
          writeFileSync(gate, String(rows));
          await waitFor(() => seen.at(-1)?.state === "complete", "a complete state event");
          const done = seen.map((snapshot) => snapshot.tiles.done);
          expect(done[0]).toBe(30);
          expect(done.at(-1)).toBe(rows);
          expect([...done].sort((a, b) => a - b)).toEqual(done);
        } finally {
          events.close();
        }
      } finally {
        await live.stop();
      }
      expect((await run.done).code).toBe(0);
    } finally {
      run.child.kill("SIGKILL");
    }
  }, 60_000);

  it("merges a long run's buckets into at most 720 points, losing no row", async () => {
    const long = join(work, "long");
    cpSync(finished, long, { recursive: true });
    const db = new Database(join(long, "ledger.sqlite"));
    const insert = db.prepare("INSERT INTO rollups (bucket, node, rows, ok, latency) VALUES (?, '', ?, ?, ?)");
    // Two days of 10 s buckets with gaps, ending where the run's own bucket starts.
    const start = (db.prepare("SELECT MIN(bucket) AS first FROM rollups").get() as { first: number }).first - 17_280 * 10_000;
    db.transaction(() => {
      for (let i = 0; i < 17_280; i++) if (i % 1000 !== 7) insert.run(start + i * 10_000, 5, 5, JSON.stringify([0, 2, 3]));
    })();
    db.close();
    const longViewer = await startViewer(long);
    try {
      const { points } = await longViewer.get<{ points: { t: number; width_ms: number; rows: number }[] }>("/api/rollups");
      expect(points.length).toBeLessThanOrEqual(720);
      expect(points.length).toBeGreaterThan(600);
      const width = points[0]?.width_ms ?? 0;
      expect(width % 10_000).toBe(0);
      expect(width).toBeGreaterThan(10_000);
      expect(points.reduce((sum, point) => sum + point.rows, 0)).toBe(rows + (17_280 - 18) * 5);
      const recent = await longViewer.get<{ points: { width_ms: number }[] }>(`/api/rollups?since=${start + 17_000 * 10_000}`);
      expect(recent.points.every((point) => point.width_ms === 10_000)).toBe(true);
    } finally {
      await longViewer.stop();
    }
  });

  it("reads a v4 ledger (no rollups) with empty charts, and a resume migrates it to v5", async () => {
    const old = join(work, "v4");
    cpSync(finished, old, { recursive: true });
    const db = new Database(join(old, "ledger.sqlite"));
    db.exec("DROP TABLE rollups");
    db.pragma("user_version = 4");
    db.close();
    const oldViewer = await startViewer(old);
    try {
      expect((await oldViewer.get<{ points: unknown[] }>("/api/rollups")).points).toEqual([]);
      expect(await oldViewer.get<State>("/api/state")).toMatchObject({ state: "complete", tiles: { done: rows } });
      const resumed = await runCli(["run", chainFile, "-i", input, "-o", old, "--quiet"], { env: { SIM_URL: simulator.url } });
      expect(resumed.code, resumed.stderr).toBe(0);
      expect((await oldViewer.get<State>("/api/state")).tiles.done).toBe(rows);
    } finally {
      await oldViewer.stop();
    }
    const migrated = new Database(join(old, "ledger.sqlite"), { readonly: true });
    expect(migrated.pragma("user_version", { simple: true })).toBe(SCHEMA_VERSION);
    expect(migrated.prepare("SELECT COUNT(*) AS n FROM rollups").get()).toEqual({ n: 0 });
    migrated.close();
  });

  it("redacts credentials in URLs that older versions may have stored (commands, reasons, error messages)", async () => {
    const planted = join(work, "planted");
    cpSync(finished, planted, { recursive: true });
    const url = "http://user:s3cr3t@gpu-box:8000/v1?api-key=s3cr3t";
    const summary = JSON.parse(readFileSync(join(planted, "summary.json"), "utf8")) as Record<string, unknown>;
    writeFileSync(join(planted, "summary.json"), JSON.stringify({ ...summary, status: "failed", resume_command: `chainette-stream run c.ts --endpoint sim=${url}` }));
    const db = new Database(join(planted, "ledger.sqlite"));
    db.prepare("UPDATE sessions SET status = 'failed', reason = ?").run(`ENGINE_DOWN: ${url} refused`);
    db.prepare("UPDATE failures SET message = ?").run(`request to ${url} failed`);
    db.close();
    const errors = join(planted, "errors", "000.jsonl");
    const first = readFileSync(errors, "utf8").split("\n")[0] as string;
    const record = JSON.parse(first) as { error: { message: string } };
    record.error.message = `request to ${url} failed`;
    const rest = readFileSync(errors, "utf8").slice(first.length);
    writeFileSync(errors, JSON.stringify(record) + rest);
    const ledger = new Database(join(planted, "ledger.sqlite"));
    ledger.prepare("UPDATE shards SET bytes = ? WHERE dir = 'errors' AND seq = 0").run(Buffer.byteLength(JSON.stringify(record) + rest));
    ledger.close();
    const plantedViewer = await startViewer(planted);
    try {
      const answers = await Promise.all(["/api/state", "/api/errors", "/api/failures?node=tag&type=ENGINE_REQUEST", "/api/failures?node=tag&type=SCHEMA_MISMATCH", "/api/rows?folder=errors&after=0:0"].map((path) => fetchRaw(`${plantedViewer.url}${path}`)));
      const page = JSON.parse(answers[4]?.body ?? "{}") as Page;
      answers.push(await fetchRaw(`${plantedViewer.url}/api/row?folder=errors&cursor=${page.lines[0]?.cursor ?? ""}`));
      for (const answer of answers) {
        expect(answer.status).toBe(200);
        expect(answer.body).not.toContain("s3cr3t");
      }
      expect(answers.map((answer) => answer.body).join("")).toContain("REDACTED@gpu-box");
      expect(JSON.parse(answers[0]?.body ?? "{}")).toMatchObject({ state: "stopped", why: expect.stringContaining("REDACTED") as unknown, resume_command: expect.stringContaining("REDACTED") as unknown });
    } finally {
      await plantedViewer.stop();
    }
  });

  it("reads a shard cut shorter than the ledger says without hanging: what is there is shown", async () => {
    const cut = join(work, "cut");
    cpSync(finished, cut, { recursive: true });
    const shard = join(cut, "flattened", "000.jsonl");
    const text = readFileSync(shard, "utf8");
    const kept = text.slice(0, text.indexOf("\n", text.length / 2) + 1);
    writeFileSync(shard, kept);
    const cutViewer = await startViewer(cut);
    try {
      const page = await cutViewer.get<Page>("/api/rows?folder=flattened&after=0:0&limit=500");
      expect(page.lines.slice(0, kept.split("\n").length - 1).map((line) => line.text)).toEqual(kept.split("\n").slice(0, -1));
      const tail = await cutViewer.get<Page>("/api/rows?folder=flattened&limit=5");
      expect(tail.lines).toHaveLength(5);
    } finally {
      await cutViewer.stop();
    }
  });

  it("refuses a folder that holds no run, naming it", async () => {
    const empty = join(work, "empty");
    mkdirSync(join(empty, "sub"), { recursive: true });
    const result = await runCli(["view", empty, "--port", "0"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`${empty} holds no run`);
  });

  it("lists the runs of a folder of run folders and reads each", async () => {
    const root = join(work, "sharded");
    for (const shard of ["0-of-2", "1-of-2"]) {
      mkdirSync(join(root, "shards"), { recursive: true });
      cpSync(finished, join(root, "shards", shard), { recursive: true });
    }
    const multi = await startViewer(root);
    try {
      const { runs, totals } = await multi.get<{ runs: { id: number; name: string; state: string; done: number }[]; totals: { done: number; total: number | null } }>("/api/runs");
      expect(totals).toEqual({ done: 2 * rows, total: 2 * rows });
      expect(runs).toEqual([
        { id: 0, name: join("shards", "0-of-2"), state: "complete", why: null, done: rows, total: rows },
        { id: 1, name: join("shards", "1-of-2"), state: "complete", why: null, done: rows, total: rows },
      ]);
      expect((await multi.get<State>("/api/state?run=1")).tiles.done).toBe(rows);
      expect((await fetchRaw(`${multi.url}/api/state?run=2`)).status).toBe(404);
    } finally {
      await multi.stop();
    }
  });
});

/** Reads `event: state` messages of a server-sent event stream. */
async function openEvents(url: string, onState: (state: State) => void): Promise<{ close(): void }> {
  const controller = new AbortController();
  const response = await fetch(url, { signal: controller.signal });
  const reader = (response.body as ReadableStream<Uint8Array> | null)?.getReader();
  if (reader === undefined) throw new Error("no event stream");
  const decoder = new TextDecoder();
  let buffer = "";
  void (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += decoder.decode(value, { stream: true });
        let end = buffer.indexOf("\n\n");
        while (end !== -1) {
          const message = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = /^data: (.*)$/m.exec(message)?.[1];
          if (/^event: state$/m.test(message) && data !== undefined) onState(JSON.parse(data) as State);
          end = buffer.indexOf("\n\n");
        }
      }
    } catch {
      // aborted
    }
  })();
  return { close: () => controller.abort() };
}
