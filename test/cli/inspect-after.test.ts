/**
 * `inspect` the morning after: why a run stopped (killed, circuit breaker), when each session
 * started and ended, how much of the input is done, whether a process still holds the OUTDIR, and
 * error samples whose message is that of the row they name.
 */
import { writeFileSync } from "node:fs";
import Database from "better-sqlite3";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SCHEMA_VERSION } from "../../src/durability/ledger-schema.js";
import { runCli, startCli } from "../helpers/cli.js";
import { gatedRuns } from "../helpers/gated-runs.js";
import { lineCount, waitFor } from "../helpers/wait-for.js";

const rows = 40;
const gateFrom = 10;
const workspace = gatedRuns("inspect-", rows);
const brokenChain = "test/fixtures/chains/broken-apply-chain.ts";

interface Report {
  state: string;
  complete: boolean;
  reason: string | null;
  rows: { done: number; ok: number; failed: number };
  progress: { done: number; total: number | null; fraction: number | null };
  holder: { live: boolean; pid: number | null; host: string | null; started_at: string | null; command: string | null } | null;
  sessions: { id: number; started_at: string; ended_at: string | null; status: string; rows: number; reason: string | null }[];
  errors: { node: string; type: string; count: number; sample: string; sampleRowId: string }[];
}

async function inspectJson(out: string): Promise<Report> {
  const result = await runCli(["inspect", out, "--json"]);
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as Report;
}

describe("inspect", () => {
  it("names the live holder during a run, then says the run was killed once its process is gone", async () => {
    const out = join(workspace.work, "killed");
    const gate = join(workspace.work, "killed.gate");
    const { child, done } = startCli(workspace.args(out, "--commit-interval", "10"), { env: { GATE_FILE: gate, GATE_FROM: String(gateFrom) } });
    workspace.gated.push(child);
    await waitFor(() => lineCount(join(out, "flattened", "000.jsonl")) === gateFrom, "the run's open rows");

    const live = await inspectJson(out);
    expect(live.state).toBe("running");
    expect(live.reason).toBeNull();
    expect(live.holder).toMatchObject({ live: true, pid: child.pid });
    expect(live.holder?.command).toContain("gate-chain.ts");
    expect(live.sessions).toHaveLength(1);
    expect(live.sessions[0]).toMatchObject({ status: "running", ended_at: null });
    const text = await runCli(["inspect", out]);
    expect(text.stdout).toContain(`held by pid ${child.pid}`);
    expect(text.stdout).toContain("(running now)");

    child.kill("SIGKILL");
    expect((await done).signal).toBe("SIGKILL");
    const after = await inspectJson(out);
    expect(after.state).toBe("killed");
    expect(after.complete).toBe(false);
    expect(after.reason).toMatch(/^killed or crashed/);
    expect(after.holder).toMatchObject({ live: false, pid: child.pid });
    expect(after.sessions[0]).toMatchObject({ status: "killed", ended_at: null });
    expect((await runCli(["inspect", out])).stdout).toContain("(no longer running)");

    // The resume ends the story: complete, with the input's size known.
    const resumed = await runCli(workspace.args(out));
    expect(resumed.code, resumed.stderr).toBe(0);
    const complete = await inspectJson(out);
    expect(complete).toMatchObject({ state: "complete", complete: true, reason: null, holder: null, progress: { done: rows, total: rows, fraction: 1 } });
    expect(complete.sessions.map((session) => session.status)).toEqual(["killed", "complete"]);
    expect(complete.sessions[1]?.ended_at).not.toBeNull();
  }, 60_000);

  it("says a circuit breaker stopped the run, naming the error", async () => {
    const out = join(workspace.work, "breaker");
    const stopped = await runCli(["run", brokenChain, "-i", workspace.input, "-o", out, "--quiet", "--batch-size", "5", "--circuit-breaker", "10:0.5"], { env: { BROKEN: "1" } });
    expect(stopped.code, stopped.stderr).toBe(1);
    const report = await inspectJson(out);
    expect(report.state).toBe("failed");
    expect(report.reason).toMatch(/^CIRCUIT_OPEN: 10 of the last 10 finished rows failed/);
    expect(report.reason).toContain("node `score` APPLY_FAILED");
    expect(report.sessions[0]).toMatchObject({ status: "failed", reason: report.reason });
    expect(report.sessions[0]?.ended_at).not.toBeNull();
    expect(report.holder).toBeNull();
    const text = await runCli(["inspect", out]);
    expect(text.stdout).toContain("why: CIRCUIT_OPEN");
    expect(text.stdout).toContain("resume with:");
  }, 60_000);

  it("shows each error group's sample message from the row it names", async () => {
    // Labels sort the other way from row ids: the least message and the least row_id are different rows.
    const input = join(workspace.work, "labelled.jsonl");
    writeFileSync(input, Array.from({ length: 30 }, (_, n) => `${JSON.stringify({ n, label: `item-${String(100 - n).padStart(3, "0")}` })}\n`).join(""));
    const out = join(workspace.work, "labelled");
    const result = await runCli(["run", brokenChain, "-i", input, "-o", out, "--quiet"], { env: { FAIL_EVERY: "3" } });
    expect(result.code, result.stderr).toBe(0);
    const report = await inspectJson(out);
    expect(report.errors).toHaveLength(1);
    const [group] = report.errors;
    expect(group?.count).toBe(10);
    const n = Number(group?.sampleRowId);
    expect(group?.sample).toContain(`cannot score item-${String(100 - n).padStart(3, "0")}:`);
  }, 60_000);

  it("reads a v3 ledger, whose sessions have no reason, and a resume migrates it to v4", async () => {
    const out = join(workspace.work, "v3");
    const args = ["run", brokenChain, "-i", workspace.input, "-o", out, "--quiet", "--limit", "20"];
    expect((await runCli(args)).code).toBe(0);
    const db = new Database(join(out, "ledger.sqlite"));
    db.exec("ALTER TABLE sessions DROP COLUMN reason");
    db.pragma("user_version = 3");
    db.close();
    const old = await inspectJson(out);
    expect(old.sessions).toEqual([expect.objectContaining({ status: "complete", reason: null })]);

    const stopped = await runCli([...args.slice(0, -2), "--batch-size", "5", "--circuit-breaker", "5:0.5"], { env: { BROKEN: "1" } });
    expect(stopped.code, stopped.stderr).toBe(1);
    const migrated = new Database(join(out, "ledger.sqlite"), { readonly: true });
    expect(migrated.pragma("user_version", { simple: true })).toBe(SCHEMA_VERSION);
    migrated.close();
    const report = await inspectJson(out);
    expect(report.sessions.map((session) => session.status)).toEqual(["complete", "failed"]);
    expect(report.sessions[1]?.reason).toMatch(/^CIRCUIT_OPEN/);
  }, 60_000);
});
