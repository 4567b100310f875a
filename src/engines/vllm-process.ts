/**
 * Starts a `vllm serve` process for a `vllm_local` engine on a port of 127.0.0.1, in its own
 * process group, its stdout and stderr going to a log file, and waits until `GET /health` answers
 * 200. Fails early, with the last lines of the log, when the process exits first. Which server to
 * start, and when to stop it, is the broker's business (`server-broker.ts`).
 */
import { spawn } from "node:child_process";
import { closeSync, mkdirSync, openSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { createServer } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { undici } from "../load-on-demand.js";
import { ChainetteError } from "../errors.js";
import type { EngineConfig } from "./engine.js";
import { isProcessAlive, stateDirectory } from "./local-engine-state.js";
import { vllmServeCommand } from "./vllm-serve-command.js";

export interface StartVllmOptions {
  /** Environment of the child and source of `CHAINETTE_VLLM_COMMAND`/`CHAINETTE_STATE_DIR`. @default process.env */
  env?: Record<string, string | undefined>;
  /** How long to wait for `/health` to answer 200. @default config.startupTimeoutMs ?? 900_000 */
  startupTimeoutMs?: number;
  /** Milliseconds between health polls. @default 500 */
  pollIntervalMs?: number;
  /** Aborting kills the starting process (unless `leaveOnAbort`) and rejects with `ABORTED`. */
  signal?: AbortSignal;
  /** On abort, leave the process running (others may be waiting for it). @default false */
  leaveOnAbort?: boolean;
}

export interface VllmServer {
  pid: number;
  /** Base URL ending in `/v1`. */
  url: string;
  log: string;
}

/** A `vllm serve` just spawned: not known to be healthy yet. */
export interface SpawnedVllm extends VllmServer {
  port: number;
  /** The `serve` arguments. */
  args: string[];
  /** Why the process is gone (`exited with code 1`), or undefined while it runs. */
  exited(): string | undefined;
  /** Resolves once the spawn either failed or produced a process. */
  spawned: Promise<void>;
}

/** Starts a server on a free port and waits until it is healthy (what the tests of the process use). */
export async function startVllmServer(config: EngineConfig, options: StartVllmOptions = {}): Promise<VllmServer> {
  const env = options.env ?? process.env;
  const log = join(stateDirectory(env), "engines", `${config.name}.log`);
  const server = spawnVllm(config, { env, port: await freePort(), log });
  await waitUntilHealthy(server, config, options);
  return server;
}

/**
 * Spawns `vllm serve` on `port`, in its own process group, stdout and stderr to `log`. Synchronous
 * up to the spawn, so it may run under the registry lock; `pid` is 0 when the program could not be
 * spawned at all (`exited()` then says why once `spawned` resolved).
 */
export function spawnVllm(config: EngineConfig, options: { env: Record<string, string | undefined>; port: number; log: string; marker?: Record<string, string> }): SpawnedVllm {
  const serve = vllmServeCommand(config, options.port, options.env);
  mkdirSync(dirname(options.log), { recursive: true });
  const logFd = openSync(options.log, "w");
  let child;
  try {
    child = spawn(serve.command, serve.args, { env: { ...options.env, ...serve.env, ...options.marker }, stdio: ["ignore", logFd, logFd], detached: true });
  } finally {
    closeSync(logFd);
  }
  // Set by the child's events, so read through an object (narrowing does not see callbacks).
  const outcome: { exited: string | undefined } = { exited: undefined };
  const spawnFailed = new Promise<void>((resolve) => child.once("error", (error) => ((outcome.exited = `could not be started: ${error.message}`), resolve())));
  child.once("exit", (code, signal) => (outcome.exited ??= `exited with ${signal === null ? `code ${String(code)}` : `signal ${signal}`}`));
  child.unref();
  const base = `http://127.0.0.1:${options.port}`;
  return {
    pid: child.pid ?? 0,
    port: options.port,
    url: `${base}/v1`,
    log: options.log,
    args: serve.args,
    exited: () => outcome.exited,
    spawned: Promise.race([spawnFailed, sleep(0)]),
  };
}

/** Polls `/health` until it answers 200; stops the process and throws when it exits, times out or is aborted. */
export async function waitUntilHealthy(server: SpawnedVllm, config: EngineConfig, options: StartVllmOptions = {}): Promise<void> {
  await server.spawned;
  if (server.pid === 0 || server.exited() !== undefined) throw startFailure(config, `\`vllm serve\` ${server.exited() ?? "could not be started"}`, server.log);
  const timeoutMs = options.startupTimeoutMs ?? config.startupTimeoutMs ?? 900_000;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const exited = server.exited();
    if (exited !== undefined) throw startFailure(config, `\`vllm serve\` ${exited} before it was healthy`, server.log);
    if (options.signal?.aborted === true) {
      if (options.leaveOnAbort !== true) await stopProcessGroup(server.pid, 5000);
      throw new ChainetteError("ABORTED", `Engine \`${config.name}\`: start cancelled`);
    }
    if (Date.now() > deadline) {
      await stopProcessGroup(server.pid, 5000);
      throw startFailure(config, `\`vllm serve\` did not answer GET /health with 200 within ${timeoutMs} ms (startup_timeout_ms)`, server.log);
    }
    if (await isHealthy(server.url)) return;
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

export function startFailure(config: EngineConfig, what: string, log: string): ChainetteError {
  let tail = "";
  try {
    tail = readFileSync(log, "utf8").trimEnd().split("\n").slice(-20).join("\n");
  } catch {
    tail = "";
  }
  const shown = tail === "" ? "(the log is empty)" : tail.replace(/^/gm, "  | ");
  return new ChainetteError("ENGINE_DOWN", `Engine \`${config.name}\` (vllm_local, model ${config.model}): ${what}. Last lines of ${log}:\n${shown}`);
}

export function freePort(): Promise<number> {
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
