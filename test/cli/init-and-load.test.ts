/**
 * A new user's first steps, in projects of their own: the repo packed with `npm pack` and laid into
 * temp projects made by `npm init -y` (CommonJS) or with `"type": "module"`, then the README's
 * tutorial (its chain.ts and questions.jsonl read from README.md) run with `npx chainette-stream`
 * against the simulator, chain files of every extension loaded, and `chainette-stream init`'s
 * project run with its own npm scripts.
 *
 * Offline: `npm install --offline <tarball> zod` needs registry metadata the npm cache does not
 * hold, so the packed package is unpacked into node_modules/chainette-stream (as npm would) and its
 * dependencies, zod included, are symlinks to this repo's installed copies.
 */
import { spawn } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator, type Simulator } from "../../src/sim/index.js";
import { readShards, repoRoot } from "../helpers/cli.js";

const model = "meta-llama/Llama-3.1-8B-Instruct";
const readme = readFileSync(join(repoRoot, "README.md"), "utf8");

interface Exec {
  code: number | null;
  stdout: string;
  stderr: string;
}

function exec(command: string, args: readonly string[], cwd: string): Promise<Exec> {
  return new Promise((resolveExec, rejectExec) => {
    const child = spawn(command, args, { cwd, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, NO_COLOR: "1" } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", rejectExec);
    child.on("close", (code) => resolveExec({ code, stdout, stderr }));
  });
}

let work: string;
let tarball: string;
let simulator: Simulator;
let endpoint: string;

/** What `npm install <tarball> zod` leaves, offline: the package unpacked, its bin linked, its dependencies linked. */
async function installPacked(project: string): Promise<void> {
  const packageDir = join(project, "node_modules", "chainette-stream");
  mkdirSync(packageDir, { recursive: true });
  const untar = await exec("tar", ["xzf", tarball, "-C", packageDir, "--strip-components=1"], project);
  expect(untar.stderr).toBe("");
  const manifest = JSON.parse(readFileSync(join(packageDir, "package.json"), "utf8")) as { bin: Record<string, string>; dependencies: Record<string, string> };
  for (const name of new Set([...Object.keys(manifest.dependencies), "zod"])) {
    const link = join(project, "node_modules", name);
    mkdirSync(dirname(link), { recursive: true });
    symlinkSync(join(repoRoot, "node_modules", name), link);
  }
  mkdirSync(join(project, "node_modules", ".bin"), { recursive: true });
  for (const [name, target] of Object.entries(manifest.bin)) {
    chmodSync(join(packageDir, target), 0o755);
    symlinkSync(join("..", "chainette-stream", target), join(project, "node_modules", ".bin", name));
  }
}

/** `npm init -y` (CommonJS: npm writes `"type": "commonjs"`), optionally switched to ESM, with the package installed. */
async function newProject(name: string, type: "commonjs" | "module"): Promise<string> {
  const project = join(work, name);
  mkdirSync(project);
  const init = await exec("npm", ["init", "-y"], project);
  expect(init.code).toBe(0);
  const manifest = JSON.parse(readFileSync(join(project, "package.json"), "utf8")) as Record<string, unknown>;
  expect(manifest.type ?? "commonjs").toBe("commonjs");
  if (type === "module") writeFileSync(join(project, "package.json"), JSON.stringify({ ...manifest, type: "module" }, null, 2));
  await installPacked(project);
  return project;
}

function readmeBlock(pattern: RegExp): string {
  const match = pattern.exec(readme);
  expect(match, `README.md has no block matching ${pattern}`).not.toBeNull();
  return match?.[1] ?? "";
}

/** The tutorial as README.md has it: its chain.ts and questions.jsonl, its inspect-dag and run commands. */
async function runTutorial(project: string): Promise<void> {
  writeFileSync(join(project, "chain.ts"), readmeBlock(/```ts\n(\/\/ chain\.ts\n[\s\S]*?)```/));
  writeFileSync(join(project, "questions.jsonl"), `${readmeBlock(/cat > questions\.jsonl <<'EOF'\n([\s\S]*?)\nEOF\n/)}\n`);
  const questions = readFileSync(join(project, "questions.jsonl"), "utf8").trim().split("\n").length;

  const dag = await exec("npx", ["chainette-stream", "inspect-dag", "chain.ts"], project);
  expect(dag.stderr).toBe("");
  expect(dag.stdout).toContain("valid: 2 node(s)");
  const run = await exec("npx", ["chainette-stream", "run", "chain.ts", "-i", "questions.jsonl", "-o", "out", "--endpoint", `llama3=${endpoint}`, "--quiet"], project);
  expect(run.stderr).toBe("");
  expect(run.code).toBe(0);
  expect(run.stdout).toContain(`simple-qa: complete — ${questions} rows in`);
  const summary = JSON.parse(readFileSync(join(project, "out", "summary.json"), "utf8")) as { rows: { in: number; ok: number; failed: number; filtered: number } };
  expect(summary.rows).toMatchObject({ in: questions, failed: 0 });
  expect(summary.rows.ok + summary.rows.filtered).toBe(questions);
  expect(readShards(join(project, "out"), "qa").map((record) => record.row_id).sort()).toEqual(Array.from({ length: questions }, (_, i) => String(i)).sort());
}

const esmBody = (imports: string): string => `${imports}
registerEngine({ name: "llama3", backend: "vllm_api", model: "${model}", endpoint: "http://127.0.0.1:9/v1" });
const qa = new Step({ id: "qa", outputModel: z.object({ answer: z.string() }), engineName: "llama3", userPrompt: "Q: {{text}}" });
`;
const esmChain = `${esmBody(`import { z } from "zod";\nimport { Chain, registerEngine, Step } from "chainette-stream";`)}export const chain = new Chain({ name: "esm-syntax", steps: [qa] });\n`;
const cjsChain = `${esmBody(`const { z } = require("zod");\nconst { Chain, registerEngine, Step } = require("chainette-stream");`)}module.exports = { chain: new Chain({ name: "cjs-syntax", steps: [qa] }) };\n`;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "newcomer-"));
  const pack = await exec("npm", ["pack", "--ignore-scripts", "--pack-destination", work], repoRoot);
  expect(pack.code).toBe(0);
  tarball = join(work, pack.stdout.trim().split("\n").at(-1) ?? "");
  simulator = await startSimulator({ port: 0, profile: "instant", model });
  endpoint = `${simulator.url}/v1`;
}, 120_000);
afterAll(async () => {
  await simulator.close();
  rmSync(work, { recursive: true, force: true });
});

describe("the tutorial in a user's own project", () => {
  it("README.md says to install zod beside the package", () => {
    expect(readme).toContain("npm install chainette-stream zod");
  });

  it("runs in an `npm init -y` (CommonJS) project", async () => {
    await runTutorial(await newProject("commonjs-project", "commonjs"));
  });

  it("runs in a `\"type\": \"module\"` project", async () => {
    await runTutorial(await newProject("esm-project", "module"));
  });

  it("loads chain files of every extension, in either kind of project", async () => {
    const commonjs = await newProject("extensions-commonjs", "commonjs");
    const esm = await newProject("extensions-esm", "module");
    const cases: [project: string, file: string, source: string][] = [
      [commonjs, "chain.mts", esmChain],
      [commonjs, "chain.cts", esmChain],
      [commonjs, "chain.mjs", esmChain],
      [commonjs, "chain.cjs", cjsChain],
      [commonjs, "chain.js", cjsChain],
      [esm, "chain.js", esmChain],
      [esm, "chain.cts", esmChain],
      [esm, "chain.cjs", cjsChain],
    ];
    for (const [project, file, source] of cases) {
      writeFileSync(join(project, file), source);
      const dag = await exec(process.execPath, [join("node_modules", ".bin", "chainette-stream"), "inspect-dag", file], project);
      expect({ project, file, stderr: dag.stderr, code: dag.code }).toEqual({ project, file, stderr: "", code: 0 });
      expect(dag.stdout).toMatch(/^(esm|cjs)-syntax {2}\(fingerprint/);
    }
  });
});

describe("chainette-stream init", () => {
  it("writes a project whose documented commands run against the simulator, and never overwrites", async () => {
    const host = await newProject("init-host", "commonjs");
    const init = await exec("npx", ["chainette-stream", "init", "starter"], host);
    expect(init.stderr).toBe("");
    expect(init.code).toBe(0);
    const project = join(host, "starter");
    expect(readdirSync(project).sort()).toEqual([".gitignore", "README.md", "chain.ts", "engines.yml", "input.jsonl", "package.json"]);
    const manifest = JSON.parse(readFileSync(join(project, "package.json"), "utf8")) as { dependencies: Record<string, string>; scripts: Record<string, string> };
    expect(Object.keys(manifest.dependencies).sort()).toEqual(["chainette-stream", "zod"]);
    const projectReadme = readFileSync(join(project, "README.md"), "utf8");
    for (const command of ["npm install", "npm run sim", "npm run check", "npm start", "npm run inspect"]) expect(projectReadme).toContain(command);

    const again = await exec("npx", ["chainette-stream", "init", "starter"], host);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain("package.json, chain.ts, input.jsonl, engines.yml, README.md, .gitignore");
    expect(readFileSync(join(project, "README.md"), "utf8")).toBe(projectReadme);

    await installPacked(project);
    const sim = spawn("npm", ["run", "sim", "--", "--port", "0", "--profile", "instant"], { cwd: project, stdio: ["ignore", "pipe", "pipe"], detached: true });
    try {
      const url = await new Promise<string>((resolveUrl, rejectUrl) => {
        let text = "";
        sim.stdout.on("data", (chunk: Buffer) => {
          text += chunk.toString();
          const match = /sim listening on (http:\/\/\S+)/.exec(text);
          if (match?.[1]) resolveUrl(match[1]);
        });
        sim.on("exit", (code) => rejectUrl(new Error(`npm run sim exited with ${code}: ${text}`)));
      });
      const check = await exec("npm", ["run", "check"], project);
      expect(check.code).toBe(0);
      expect(check.stdout).toContain("valid: 2 node(s)");
      const start = await exec("npm", ["start", "--", "--endpoint", `llm=${url}/v1`], project);
      expect(start.code).toBe(0);
      expect(start.stdout).toContain("ticket-triage: complete — 12 rows in, 12 ok, 0 failed");
      const routed = readShards(join(project, "out"), "flattened");
      expect(routed).toHaveLength(12);
      for (const record of routed) expect(["engineering", "finance", "support"]).toContain(record["route.queue"]);
      const inspect = await exec("npm", ["run", "inspect"], project);
      expect(inspect.stdout).toContain("out: complete");
    } finally {
      if (sim.pid !== undefined) process.kill(-sim.pid, "SIGTERM");
    }
  });
});
