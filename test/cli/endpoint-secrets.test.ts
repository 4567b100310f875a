/**
 * Credentials inside an `--endpoint NAME=URL` (user info, query values) never reach a file of
 * OUTDIR, the CLI's output, or `inspect`; the resume hint shows them as REDACTED and says to give
 * them again.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator, type Simulator } from "../../src/sim/index.js";
import { cliPath, questionLines, repoRoot, runCli } from "../helpers/cli.js";

const chainFile = "test/fixtures/chains/qa-chain.ts";
const password = "pw-DO-NOT-LEAK-1717";
const queryKey = "qk-DO-NOT-LEAK-2828";
let simulator: Simulator;
let work: string;

beforeAll(async () => {
  simulator = await startSimulator({ port: 0, profile: "instant", model: "sim-model" });
  work = mkdtempSync(join(tmpdir(), "secrets-"));
});
afterAll(async () => {
  await simulator.close();
  rmSync(work, { recursive: true, force: true });
});

/** Every file under `folder`, recursively (shards, staging, ledger and its WAL). */
function filesUnder(folder: string): string[] {
  return readdirSync(folder).flatMap((name) => {
    const path = join(folder, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

function expectNoSecret(text: string, where: string): void {
  expect(text.includes(password), `${where} holds the password`).toBe(false);
  expect(text.includes(queryKey), `${where} holds the query key`).toBe(false);
}

function expectNoSecretInFolder(out: string): void {
  const files = filesUnder(out);
  expect(files.some((file) => file.endsWith("ledger.sqlite"))).toBe(true);
  for (const file of files) expectNoSecret(readFileSync(file).toString("latin1"), file);
}

describe("--endpoint credentials", () => {
  it("are redacted from graph.json, summary.json, the ledger, the output and inspect", async () => {
    const input = join(work, "questions.jsonl");
    writeFileSync(input, questionLines(10));
    const out = join(work, "out-live");
    const endpoint = `sim=${simulator.url.replace("://", `://user:${password}@`)}/v1?api-key=${queryKey}`;
    const result = await runCli(["run", chainFile, "-i", input, "-o", out, "--endpoint", endpoint, "--json-logs"], { env: {} });
    expect(result.code, result.stderr).toBe(0);
    expectNoSecret(result.stdout + result.stderr, "the CLI's output");
    expectNoSecretInFolder(out);
    const graph = JSON.parse(readFileSync(join(out, "graph.json"), "utf8")) as { invocation: string[] };
    expect(graph.invocation).toContain(`sim=${simulator.url.replace("://", "://REDACTED@")}/v1?api-key=REDACTED`);
    const inspect = await runCli(["inspect", out]);
    expectNoSecret(inspect.stdout + inspect.stderr, "inspect");
  });

  it("leave a resume hint that shows REDACTED and says to give them again", async () => {
    const input = join(work, "down.jsonl");
    writeFileSync(input, questionLines(5));
    const out = join(work, "out-down");
    // Nothing listens on port 9: the engine is down, the run stops resumably and prints the hint.
    const result = await runCli(
      ["run", chainFile, "-i", input, "-o", out, "--endpoint", `sim=http://user:${password}@127.0.0.1:9/v1?api-key=${queryKey}`, "--engine-down-timeout", "1", "--quiet"],
      { env: {} },
    );
    expect(result.code).toBe(1);
    expectNoSecret(result.stdout + result.stderr, "the CLI's output");
    expect(result.stdout).toContain(`resume with: node ${cliPath} run ${join(repoRoot, chainFile)}`);
    expect(result.stdout).toContain("--endpoint 'sim=http://REDACTED@127.0.0.1:9/v1?api-key=REDACTED'");
    expect(result.stdout).toContain("credentials in URLs were replaced by REDACTED");
    expectNoSecretInFolder(out);
    const summary = JSON.parse(readFileSync(join(out, "summary.json"), "utf8")) as { resume_command: string; resume_note: string | null };
    expect(summary.resume_note).toContain("--endpoint NAME=URL");

    const inspect = await runCli(["inspect", out]);
    expect(inspect.code).toBe(0);
    expectNoSecret(inspect.stdout + inspect.stderr, "inspect");
    expect(inspect.stdout).toContain("resume with:");
    expect(inspect.stdout).toContain("credentials in URLs were replaced by REDACTED");
    const json = await runCli(["inspect", out, "--json"]);
    expectNoSecret(json.stdout, "inspect --json");
  });

  it("are redacted by inspect from a summary.json written before invocations were redacted", async () => {
    const input = join(work, "old.jsonl");
    writeFileSync(input, questionLines(3));
    const out = join(work, "out-old-summary");
    expect((await runCli(["run", chainFile, "-i", input, "-o", out, "--quiet"], { env: { SIM_URL: simulator.url } })).code).toBe(0);
    // What an earlier version left: the raw command line, and a run that did not complete.
    const summaryPath = join(out, "summary.json");
    const summary = JSON.parse(readFileSync(summaryPath, "utf8")) as Record<string, unknown>;
    delete summary.resume_note;
    writeFileSync(summaryPath, JSON.stringify({ ...summary, status: "stopped", complete: false, resume_command: `chainette-stream run x -i y -o z --endpoint sim=https://u:${password}@h/v1` }));
    const json = await runCli(["inspect", out, "--json"]);
    expect(json.code).toBe(0);
    expectNoSecret(json.stdout, "inspect --json");
    expect(JSON.parse(json.stdout)).toMatchObject({ resume_command: "chainette-stream run x -i y -o z --endpoint sim=https://REDACTED@h/v1" });
  });
});
