/**
 * A ledger that cannot account for the shards beside it (emptied, another application's database,
 * garbage) is refused with one clear message and the outputs left as they are; a lost `-wal` cannot
 * lose the run's identity; a damaged shard is refused with what to run instead, not a resume hint
 * that can never work.
 */
import { existsSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { Ledger } from "../../src/durability/ledger.js";
import { runCli, startCli, type CliResult } from "../helpers/cli.js";
import { checkExactlyOnce } from "../helpers/exactly-once.js";
import { gatedRuns } from "../helpers/gated-runs.js";
import { lineCount, waitFor } from "../helpers/wait-for.js";

const rows = 120;
const workspace = gatedRuns("ledger-refusals-", rows);
const gateFrom = 40;
const { gated, args } = workspace;

async function completedRun(name: string, ...extra: string[]): Promise<string> {
  const out = join(workspace.work, name);
  const result = await runCli(args(out, ...extra));
  expect(result.code, result.stderr).toBe(0);
  return out;
}

/** Every file of OUTDIR but the ledger and the lock, with its bytes. */
function outputs(outDir: string): Map<string, string> {
  const files = new Map<string, string>();
  const visit = (folder: string): void => {
    for (const entry of readdirSync(join(outDir, folder), { withFileTypes: true })) {
      const path = folder === "" ? entry.name : `${folder}/${entry.name}`;
      if (entry.isDirectory()) visit(path);
      else if (!entry.name.startsWith("ledger.sqlite") && !entry.name.startsWith(".lock")) files.set(path, readFileSync(join(outDir, path), "base64"));
    }
  };
  visit("");
  return files;
}

/** One message with its code, no stack trace, and no resume hint. */
function expectRefusal(result: CliResult, code: string, exit: number): void {
  expect(result.code, result.stderr).toBe(exit);
  expect(result.stderr).toContain(`${code}: `);
  expect(result.stderr).not.toMatch(/\n\s+at /);
  expect(result.stdout).not.toContain("resume with");
}

describe("a ledger that cannot account for the shards", () => {
  it("refuses a 0-byte ledger.sqlite beside shards and deletes nothing", async () => {
    const out = await completedRun("zero-bytes");
    truncateSync(join(out, "ledger.sqlite"), 0);
    const before = outputs(out);
    const result = await runCli(args(out));
    expectRefusal(result, "LEDGER_CORRUPT", 1);
    expect(result.stderr).toContain("records no run");
    expect(result.stderr).toContain("flattened/000.jsonl");
    expect(result.stderr).toContain("--fresh");
    expect(outputs(out)).toEqual(before);
    // --fresh is the way out it names.
    const fresh = await runCli(args(out, "--fresh"));
    expect(fresh.code, fresh.stderr).toBe(0);
    expect(checkExactlyOnce(out, ["pass"]).rootIds.size).toBe(rows);
  }, 60_000);

  it("refuses another application's SQLite database and never writes to it, --fresh or not", async () => {
    const out = await completedRun("foreign");
    const path = join(out, "ledger.sqlite");
    rmSync(path);
    const foreign = new Database(path);
    foreign.exec("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT); INSERT INTO notes (body) VALUES ('keep me')");
    foreign.close();
    const bytes = readFileSync(path);
    const before = outputs(out);
    for (const extra of [[], ["--fresh"]]) {
      const result = await runCli(args(out, ...extra));
      expectRefusal(result, "LEDGER_FOREIGN", 2);
      expect(result.stderr).toContain("not a chainette-stream ledger (its tables: notes)");
      expect(readFileSync(path).equals(bytes), "the foreign database was written to").toBe(true);
      expect(readdirSync(out).filter((name) => name.startsWith("ledger.sqlite-"))).toEqual([]);
      expect(outputs(out)).toEqual(before);
    }
  }, 60_000);

  it("refuses a ledger.sqlite overwritten with garbage with one message, not an SQLite stack trace", async () => {
    const out = await completedRun("garbage");
    const path = join(out, "ledger.sqlite");
    writeFileSync(path, Buffer.alloc(statSync(path).size, "not a database. "));
    const before = outputs(out);
    const result = await runCli(args(out));
    expectRefusal(result, "LEDGER_CORRUPT", 1);
    expect(result.stderr).toContain("is damaged");
    expect(result.stderr.trim().split("\n")).toHaveLength(1);
    expect(outputs(out)).toEqual(before);
  }, 60_000);

  it("keeps the run identity when the -wal is lost after a SIGKILL early in the run", async () => {
    const out = join(workspace.work, "lost-wal");
    const gate = join(workspace.work, "gate-lost-wal");
    const first = startCli(args(out), { env: { GATE_FILE: gate, GATE_FROM: String(gateFrom) } });
    gated.push(first.child);
    await waitFor(() => lineCount(join(out, "flattened", "000.jsonl")) === gateFrom && committedRows(out) === gateFrom, "the open rows to be committed");
    first.child.kill("SIGKILL");
    expect((await first.done).signal).toBe("SIGKILL");
    unlinkSync(join(out, "ledger.sqlite-wal"));
    const before = outputs(out);

    // Another chain may not take the OUTDIR for a new run of its own (without a response cache, which would make it a rerun).
    const changed = await runCli([...args(out), "--no-cache"], { env: { GATE_NODE: "renamed" } });
    expectRefusal(changed, "RUN_CHANGED", 2);
    expect(changed.stderr).toContain("node `renamed` is new");
    expect(outputs(out)).toEqual(before);

    // The same command resumes: commits lost with the -wal are redone, never duplicated.
    const resumed = await runCli(args(out));
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(checkExactlyOnce(out, ["pass"]).rootIds.size).toBe(rows);
  }, 60_000);
});

describe("a damaged shard", () => {
  it("is refused with what to run instead of a resume command that cannot work", async () => {
    const out = await completedRun("edited-shard");
    const shard = join(out, "pass", "000.jsonl");
    const text = readFileSync(shard, "utf8");
    writeFileSync(shard, text.replace('"square":4', '"square":5'));
    const result = await runCli(args(out));
    expectRefusal(result, "SHARD_DAMAGED", 1);
    expect(result.stderr).toContain(`${shard}: it does not match the checksum the ledger committed`);
    expect(result.stderr).toContain("--repair");
    expect(result.stderr).toContain("--fresh");
  }, 60_000);

  it("with a broken JSON line, while Parquet seals it, is SHARD_DAMAGED, not a SyntaxError", async () => {
    const out = join(workspace.work, "broken-staging");
    const gate = join(workspace.work, "gate-broken-staging");
    const parquet = ["--format", "parquet"];
    const first = startCli(args(out, ...parquet), { env: { GATE_FILE: gate, GATE_FROM: String(gateFrom) } });
    gated.push(first.child);
    await waitFor(() => committedRows(out) === gateFrom, "the open rows to be committed");
    first.child.kill("SIGKILL");
    expect((await first.done).signal).toBe("SIGKILL");
    // A committed staging line broken in a way its checksum does not catch (the checksum rewritten
    // to match), so only the parse while sealing sees it.
    const staging = join(out, "pass", ".staging", "000.jsonl");
    const lines = readFileSync(staging, "utf8").split("\n");
    lines[1] = (lines[1] ?? "").replace(":", "!");
    const broken = lines.join("\n");
    writeFileSync(staging, broken);
    const ledger = new Database(join(out, "ledger.sqlite"));
    const { bytes } = ledger.prepare("SELECT bytes FROM shards WHERE dir = 'pass' AND seq = 0").get() as { bytes: number };
    ledger.prepare("UPDATE shards SET crc = ? WHERE dir = 'pass' AND seq = 0").run(crc32(Buffer.from(broken).subarray(0, bytes)));
    ledger.close();

    const result = await runCli(args(out, ...parquet));
    expectRefusal(result, "SHARD_DAMAGED", 1);
    expect(result.stderr).toContain(`${staging} has a line that is not JSON (line 2`);
    expect(existsSync(join(out, "pass", "000.parquet"))).toBe(false);
  }, 60_000);
});

/** Rows the ledger has committed as done, read as `inspect` does; 0 until the ledger exists. */
function committedRows(outDir: string): number {
  try {
    const ledger = Ledger.open(join(outDir, "ledger.sqlite"), { readonly: true });
    try {
      return ledger.done().count();
    } finally {
      ledger.close();
    }
  } catch {
    return 0;
  }
}
