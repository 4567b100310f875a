/** Spawns the real CLI (the built `dist/cli/main.js`) and reads what a run leaves in OUTDIR. */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";

export const repoRoot = resolve(import.meta.dirname, "../..");
export const cliPath = join(repoRoot, "dist/cli/main.js");

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function startCli(args: readonly string[], options: { env?: Record<string, string>; input?: string } = {}): { child: ChildProcess; done: Promise<CliResult> } {
  const child = spawn(process.execPath, [cliPath, ...args], {
    cwd: repoRoot,
    env: { ...process.env, ...options.env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  if (options.input !== undefined) child.stdin?.end(options.input);
  else child.stdin?.end();
  const done = new Promise<CliResult>((resolveDone) => {
    child.on("close", (code, signal) => resolveDone({ code, signal, stdout, stderr }));
  });
  return { child, done };
}

export function runCli(args: readonly string[], options: { env?: Record<string, string>; input?: string } = {}): Promise<CliResult> {
  return startCli(args, options).done;
}

/** Every JSON line of every shard of one output folder, in shard order. */
export function readShards(outDir: string, folder: string): Record<string, unknown>[] {
  const path = join(outDir, folder);
  if (!existsSync(path)) return [];
  const files = readdirSync(path).filter((name) => name.endsWith(".jsonl")).sort();
  const records: Record<string, unknown>[] = [];
  for (const file of files) {
    const text = readFileSync(join(path, file), "utf8");
    if (text.length > 0 && !text.endsWith("\n")) throw new Error(`${folder}/${file} ends with a torn line`);
    for (const line of text.split("\n")) if (line !== "") records.push(JSON.parse(line) as Record<string, unknown>);
  }
  return records;
}

/** Writes `count` question rows as JSONL. */
export function questionLines(count: number, start = 0): string {
  let out = "";
  for (let i = start; i < start + count; i++) out += `${JSON.stringify({ text: `Question number ${i}: why is ${i} interesting?` })}\n`;
  return out;
}
