/**
 * Starts a `vllm serve` process for a `vllm_local` engine on a free port of 127.0.0.1, in its own
 * process group, its stdout and stderr going to a log file, and waits until `GET /health` answers
 * 200. Fails early, with the last lines of the log, when the process exits first.
 */
import { spawn } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { undici } from "../load-on-demand.js";
import { ChainetteError } from "../errors.js";
import type { EngineConfig } from "./engine.js";
import { engineLogPath, isProcessAlive, stateDirectory } from "./local-engine-state.js";
import { vllmServeCommand } from "./vllm-serve-command.js";

export interface StartVllmOptions {
  /** Environment of the child and source of `CHAINETTE_VLLM_COMMAND`/`CHAINETTE_STATE_DIR`. @default process.env */
  env?: Record<string, string | undefined>;
  /** How long to wait for `/health` to answer 200. @default config.startupTimeoutMs ?? 900_000 */
  startupTimeoutMs?: number;
  /** Milliseconds between health polls. @default 500 */
  pollIntervalMs?: number;
  /** Aborting kills the starting process and rejects. */
  signal?: AbortSignal;
  /** Called with the pid as soon as the process exists (before it is healthy). */
  onSpawn?: (pid: number) => void;
}

export interface VllmServer {
  pid: number;
  /** Base URL ending in `/v1`. */
  url: string;
  log: string;
}

export async function startVllmServer(config: EngineConfig, options: StartVllmOptions = {}): Promise<VllmServer> {
  const env = options.env ?? process.env;
  const port = await freePort();
  const serve = vllmServeCommand(config, port, env);
  const log = engineLogPath(config.name, stateDirectory(env));
  const logFd = openSync(log, "w");
  let child;
  try {
    child = spawn(serve.command, serve.args, { env: { ...env, ...serve.env }, stdio: ["ignore", logFd, logFd], detached: true });
  } finally {
    closeSync(logFd);
  }
  // Set by the child's events, so read through an object (narrowing does not see callbacks).
  const outcome: { exited: string | undefined } = { exited: undefined };
  const spawnFailed = new Promise<void>((resolve) => child.once("error", (error) => ((outcome.exited = `could not be started: ${error.message}`), resolve())));
  child.once("exit", (code, signal) => (outcome.exited ??= `exited with ${signal === null ? `code ${String(code)}` : `signal ${signal}`}`));
  const exitedWith = (): string | undefined => outcome.exited;
  await Promise.race([spawnFailed, sleep(0)]);
  const pid = child.pid;
  if (pid === undefined || outcome.exited !== undefined) throw startFailure(config, `\`${serve.command}\` ${outcome.exited ?? "could not be started"}`, log);
  child.unref();
  options.onSpawn?.(pid);

  const base = `http://127.0.0.1:${port}`;
  const timeoutMs = options.startupTimeoutMs ?? config.startupTimeoutMs ?? 900_000;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const exited = exitedWith();
    if (exited !== undefined) throw startFailure(config, `\`vllm serve\` ${exited} before it was healthy`, log);
    if (options.signal?.aborted === true) {
      await stopProcessGroup(pid, 5000);
      throw new ChainetteError("ABORTED", `Engine \`${config.name}\`: start cancelled`);
    }
    if (Date.now() > deadline) {
      await stopProcessGroup(pid, 5000);
      throw startFailure(config, `\`vllm serve\` did not answer GET /health with 200 within ${timeoutMs} ms (startup_timeout_ms)`, log);
    }
    if (await isHealthy(base)) return { pid, url: `${base}/v1`, log };
    await sleep(options.pollIntervalMs ?? 500);
  }
}

/** Whether `GET {base}/health` answers 200 (`base` without `/v1`). */
export async function isHealthy(base: string, timeoutMs = 2000): Promise<boolean> {
  try {
    const response = await undici().request(`${base.replace(/\/v1\/?$/, "")}/health`, { headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
    await response.body.dump();
    return response.statusCode === 200;
  } catch {
    return false;
  }
}

/** SIGTERM to the process group of `pid`, SIGKILL after `graceMs`. Resolves once it is gone. */
export async function stopProcessGroup(pid: number, graceMs = 30_000): Promise<"stopped" | "killed" | "gone"> {
  if (!signalGroup(pid, "SIGTERM")) return "gone";
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!isProcessAlive(pid)) return "stopped";
    await sleep(100);
  }
  signalGroup(pid, "SIGKILL");
  while (isProcessAlive(pid)) await sleep(50);
  return "killed";
}

function signalGroup(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    try {
      process.kill(pid, signal);
      return true;
    } catch {
      return false;
    }
  }
}

function startFailure(config: EngineConfig, what: string, log: string): ChainetteError {
  let tail = "";
  try {
    tail = readFileSync(log, "utf8").trimEnd().split("\n").slice(-20).join("\n");
  } catch {
    tail = "";
  }
  const shown = tail === "" ? "(the log is empty)" : tail.replace(/^/gm, "  | ");
  return new ChainetteError("ENGINE_DOWN", `Engine \`${config.name}\` (vllm_local, model ${config.model}): ${what}. Last lines of ${log}:\n${shown}`);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
