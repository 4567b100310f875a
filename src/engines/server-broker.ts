/**
 * The broker of managed `vllm serve` processes. An engine asks for a server (`acquireServer`) and
 * gets a lease: the server of the same model and arguments that is already running, whoever
 * started it (another branch, another run, a run that was killed, `warmup`), or a new one. Each
 * lease is a user of the server, recorded in the registry with its process identity; releasing
 * the last one starts the idle clock, and the server's reaper (a small detached process started
 * with it, `idle-reaper-main.ts`) stops it after `idle_timeout` seconds with no live user. Two
 * servers never share a GPU: a request for devices another server holds is refused before
 * anything starts.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { appendFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { ChainetteError, isChainetteError } from "../errors.js";
import type { EngineConfig } from "./engine.js";
import { isSameProcess, processStartTime, stateDirectory, type ProcessIdentity } from "./local-engine-state.js";
import { deleteRecord, readRecord, readRecords, refreshRecord, serversDirectory, withRegistryLock, writeRecord, type ServerRecord, type ServerUser } from "./server-registry.js";
import { freePort, isHealthy, spawnVllm, startFailure, stopProcessGroup, waitUntilHealthy, type SpawnedVllm } from "./vllm-process.js";
import { serverMarker } from "./unregistered-servers.js";
import { vllmServeCommand } from "./vllm-serve-command.js";

/** Seconds a server nobody uses keeps running. @default 180, as Chainette's broker */
export const DEFAULT_IDLE_TIMEOUT_S = 180;

export interface AcquireOptions {
  /** Environment of the server and source of `CHAINETTE_STATE_DIR`/`CHAINETTE_VLLM_COMMAND`. @default process.env */
  env?: Record<string, string | undefined>;
  /** The run using the server through this lease. Without one (warmup) the lease holds nothing. */
  user?: ServerUser;
  /** Keep the server until `kill`, whatever its idle time (warmup). */
  keep?: boolean;
  /** Aborting gives up waiting for the server to be healthy (the lease is released). */
  signal?: AbortSignal;
  /** Milliseconds between health polls while a server starts. @default 500 */
  pollIntervalMs?: number;
}

export interface ServerLease {
  id: string;
  pid: number;
  url: string;
  log: string;
  /** Whether this call started the server (else it joined a running one). */
  started: boolean;
  /** Drops this lease's user; with `idle_timeout: 0` the last one stops the server at once. */
  release(stopGraceMs?: number): Promise<void>;
}

/** What makes two engines' servers interchangeable, and the record id derived from it. */
export function serverIdentity(config: EngineConfig, env: Record<string, string | undefined> = process.env): { fingerprint: string; id: string } {
  const serve = vllmServeCommand(config, 0, env);
  const portAt = serve.args.indexOf("--port");
  const args = serve.args.filter((_, index) => index !== portAt && index !== portAt + 1);
  const fingerprint = createHash("sha256")
    .update(JSON.stringify({ command: serve.command, args, devices: serve.env.CUDA_VISIBLE_DEVICES ?? null, port: config.port ?? null }))
    .digest("hex");
  return { fingerprint, id: fingerprint.slice(0, 16) };
}

/**
 * Refuses, before anything starts, `vllm_local` engines whose `devices` overlap each other's (with
 * different servers) or those of a running managed server of other model or arguments.
 */
export function checkDeviceClaims(configs: readonly EngineConfig[], env: Record<string, string | undefined> = process.env): void {
  const local = configs.filter((config) => config.backend === "vllm_local" && config.devices !== undefined && config.devices.length > 0);
  if (local.length === 0) return;
  const identities = local.map((config) => serverIdentity(config, env).fingerprint);
  local.forEach((config, index) => {
    for (let other = 0; other < index; other++) {
      const earlier = local[other];
      const shared = overlap(config.devices, earlier?.devices);
      if (earlier !== undefined && shared.length > 0 && identities[other] !== identities[index]) {
        throw new ChainetteError(
          "ENGINE_CONFIG",
          `Engines \`${earlier.name}\` and \`${config.name}\` both ask for GPU device${shared.length > 1 ? "s" : ""} ${shared.join(",")} for different servers: give each its own \`devices\`, or the same model and options so they share one server`,
        );
      }
    }
  });
  const running = readRecords(stateDirectory(env)).filter((record) => isSameProcess(record));
  for (const config of local) checkAgainstRunning(config, serverIdentity(config, env).fingerprint, running);
}

/** Finds or starts the server `config` asks for and waits until it is healthy. */
export async function acquireServer(config: EngineConfig, options: AcquireOptions = {}): Promise<ServerLease> {
  const env = options.env ?? process.env;
  const stateDir = stateDirectory(env);
  const { fingerprint, id } = serverIdentity(config, env);
  const startupTimeoutMs = config.startupTimeoutMs ?? 900_000;
  const deadline = Date.now() + startupTimeoutMs;
  for (;;) {
    const port = config.port ?? (await freePort());
    const claim = withRegistryLock(stateDir, () => claimServer(stateDir, config, { fingerprint, id, port, env, options }));
    const lease = (record: ServerRecord, started: boolean): ServerLease => ({
      id,
      pid: record.pid,
      url: record.url,
      log: record.log,
      started,
      release: (stopGraceMs = 30_000) => releaseUser(stateDir, record, config, options.user, stopGraceMs),
    });
    if (claim.kind === "spawned") {
      try {
        await waitUntilHealthy(claim.server, config, { ...options, startupTimeoutMs, leaveOnAbort: true });
      } catch (error) {
        // Cancelled: the server goes on loading for whoever else joined, or for idle_timeout.
        if (isChainetteError(error, "ABORTED")) await releaseUser(stateDir, claim.record, config, options.user, 30_000);
        else {
          withRegistryLock(stateDir, () => {
            if (readRecord(stateDir, id)?.pid === claim.record.pid) deleteRecord(stateDir, id);
          });
        }
        throw error;
      }
      markReady(stateDir, claim.record);
      return lease(claim.record, true);
    }
    if (claim.kind === "joined") {
      if (claim.record.state === "starting") await waitForShared(stateDir, claim.record, config, options, deadline);
      return lease(claim.record, false);
    }
    // Being stopped (idle, or `kill`): wait until it is gone, then start a new one.
    if (Date.now() > deadline) throw new ChainetteError("ENGINE_DOWN", `Engine \`${config.name}\`: the server of the same model (pid ${claim.record.pid}) was still stopping after ${startupTimeoutMs} ms`);
    await sleep(200);
  }
}

type Claim = { kind: "spawned"; server: SpawnedVllm; record: ServerRecord } | { kind: "joined"; record: ServerRecord } | { kind: "stopping"; record: ServerRecord };

interface ClaimContext {
  fingerprint: string;
  id: string;
  port: number;
  env: Record<string, string | undefined>;
  options: AcquireOptions;
}

/** Under the lock: join the server of `fingerprint`, or spawn it (after the device and port checks). */
function claimServer(stateDir: string, config: EngineConfig, context: ClaimContext): Claim {
  const { fingerprint, id, options } = context;
  const running = readRecords(stateDir).filter((record) => refreshRecord(stateDir, record) === "alive");
  for (const record of running) ensureReaper(stateDir, record);
  const existing = running.find((record) => record.fingerprint === fingerprint);
  if (existing?.state === "stopping") return { kind: "stopping", record: existing };
  if (existing !== undefined) {
    addUser(existing, config, options);
    writeRecord(stateDir, existing);
    return { kind: "joined", record: existing };
  }
  checkAgainstRunning(config, fingerprint, running);
  const log = join(serversDirectory(stateDir), `${id}.log`);
  const server = spawnVllm(config, { env: context.env, port: context.port, log, marker: serverMarker(stateDir, id) });
  const record: ServerRecord = {
    id,
    fingerprint,
    pid: server.pid,
    start_time: server.pid === 0 ? null : processStartTime(server.pid),
    reaper: null,
    model: config.model,
    args: server.args,
    port: server.port,
    url: server.url,
    devices: config.devices ?? null,
    engines: [],
    started_at: new Date().toISOString(),
    state: "starting",
    keep: false,
    idle_timeout_s: DEFAULT_IDLE_TIMEOUT_S,
    idle_since: null,
    users: [],
    log,
  };
  addUser(record, config, options);
  if (server.pid !== 0) {
    record.reaper = spawnReaper(stateDir, id);
    writeRecord(stateDir, record);
  }
  return { kind: "spawned", server, record };
}

function addUser(record: ServerRecord, config: EngineConfig, options: AcquireOptions): void {
  if (!record.engines.includes(config.name)) record.engines.push(config.name);
  if (options.keep === true) record.keep = true;
  const user = options.user;
  if (user !== undefined) {
    if (!record.users.some((other) => sameUser(other, user))) record.users.push(user);
    record.idle_since = null;
    record.idle_timeout_s = config.idleTimeout ?? DEFAULT_IDLE_TIMEOUT_S;
  }
}

function checkAgainstRunning(config: EngineConfig, fingerprint: string, running: readonly ServerRecord[]): void {
  for (const record of running) {
    if (record.fingerprint === fingerprint) continue;
    const shared = overlap(config.devices, record.devices ?? undefined);
    if (shared.length > 0) {
      throw new ChainetteError(
        "ENGINE_CONFIG",
        `Engine \`${config.name}\` asks for GPU device${shared.length > 1 ? "s" : ""} ${shared.join(",")}, which a running \`vllm serve\` holds (pid ${record.pid}, model ${record.model}, engine ${record.engines.join(", ")}): stop it with \`chainette-stream kill -e ${record.engines[0] ?? "NAME"}\` or give \`${config.name}\` other devices`,
      );
    }
    if (config.port !== undefined && record.port === config.port) {
      throw new ChainetteError("ENGINE_CONFIG", `Engine \`${config.name}\` asks for port ${config.port}, which a running \`vllm serve\` of another model or options uses (pid ${record.pid}, model ${record.model}): pick another \`port\`, or none`);
    }
  }
}

function overlap(a: readonly number[] | undefined, b: readonly number[] | undefined): number[] {
  if (a === undefined || b === undefined) return [];
  return a.filter((device) => b.includes(device));
}

function sameUser(a: ServerUser, b: ServerUser): boolean {
  return a.pid === b.pid && a.start_time === b.start_time && a.engine === b.engine;
}

function markReady(stateDir: string, record: ServerRecord): void {
  withRegistryLock(stateDir, () => {
    const current = readRecord(stateDir, record.id);
    if (current?.pid === record.pid && current.state === "starting") writeRecord(stateDir, { ...current, state: "ready" });
  });
}

/** Waits for a server another command started; throws when it goes away before it is healthy. */
async function waitForShared(stateDir: string, record: ServerRecord, config: EngineConfig, options: AcquireOptions, deadline: number): Promise<void> {
  for (;;) {
    const current = readRecord(stateDir, record.id);
    if (current?.pid !== record.pid || !isSameProcess(record)) {
      await releaseUser(stateDir, record, config, options.user, 30_000);
      throw startFailure(config, `\`vllm serve\` (pid ${record.pid}, started by another command) stopped before it was healthy`, record.log);
    }
    if (current.state === "ready" || (await isHealthy(record.url))) {
      markReady(stateDir, record);
      return;
    }
    if (options.signal?.aborted === true || Date.now() > deadline) {
      await releaseUser(stateDir, record, config, options.user, 30_000);
      if (options.signal?.aborted === true) throw new ChainetteError("ABORTED", `Engine \`${config.name}\`: start cancelled`);
      throw startFailure(config, `\`vllm serve\` (pid ${record.pid}, started by another command) did not answer GET /health with 200 in time (startup_timeout_ms)`, record.log);
    }
    await sleep(options.pollIntervalMs ?? 500);
  }
}

async function releaseUser(stateDir: string, leased: ServerRecord, config: EngineConfig, user: ServerUser | undefined, stopGraceMs: number): Promise<void> {
  if (user === undefined) return;
  const stopNow = withRegistryLock(stateDir, () => {
    const record = readRecord(stateDir, leased.id);
    if (record?.pid !== leased.pid) return undefined;
    record.users = record.users.filter((other) => !sameUser(other, user));
    if (record.users.length === 0) {
      record.idle_since = new Date().toISOString();
      record.idle_timeout_s = config.idleTimeout ?? DEFAULT_IDLE_TIMEOUT_S;
    }
    const stop = record.users.length === 0 && record.idle_timeout_s === 0 && !record.keep && record.state !== "stopping";
    if (stop) record.state = "stopping";
    writeRecord(stateDir, record);
    return stop ? record : undefined;
  });
  if (stopNow !== undefined) await stopServer(stateDir, stopNow, stopGraceMs, "its last user left and idle_timeout is 0");
}

/**
 * Stops a server whose record is already marked `stopping` (SIGTERM to its process group, SIGKILL
 * after `graceMs`), then its reaper, and deletes the record.
 */
export async function stopServer(stateDir: string, record: ServerRecord, graceMs: number, why: string): Promise<"stopped" | "killed" | "gone"> {
  note(record.log, `stopping (${why})`);
  const outcome = isSameProcess(record) ? await stopProcessGroup(record.pid, graceMs) : "gone";
  withRegistryLock(stateDir, () => {
    if (readRecord(stateDir, record.id)?.pid === record.pid) deleteRecord(stateDir, record.id);
  });
  const reaper = record.reaper;
  if (reaper !== null && reaper.pid !== process.pid && isSameProcess(reaper)) signal(reaper, "SIGTERM");
  return outcome;
}

/** Appends a line of ours to a server's log. */
export function note(log: string, line: string): void {
  try {
    appendFileSync(log, `[chainette-stream ${new Date().toISOString()}] ${line}\n`);
  } catch {
    // the log is for people; a missing folder must not stop a stop
  }
}

function signal(identity: ProcessIdentity, name: NodeJS.Signals): void {
  try {
    process.kill(identity.pid, name);
  } catch {
    // gone meanwhile
  }
}

/**
 * Under the lock: starts a new reaper for a server whose reaper is gone (killed by hand, OOM), so
 * that no server outlives its idle_timeout because nobody watches it. Every run and `ps` does this.
 */
export function ensureReaper(stateDir: string, record: ServerRecord): void {
  if (record.state === "stopping" || (record.reaper !== null && isSameProcess(record.reaper))) return;
  record.reaper = spawnReaper(stateDir, record.id);
  writeRecord(stateDir, record);
}

/** Starts the detached reaper that stops server `id` once it is idle (it outlives the run). */
function spawnReaper(stateDir: string, id: string): ProcessIdentity | null {
  const child = spawn(process.execPath, [reaperScript(), stateDir, id], { detached: true, stdio: "ignore" });
  child.on("error", () => undefined);
  child.unref();
  return child.pid === undefined ? null : { pid: child.pid, start_time: processStartTime(child.pid) };
}

/** dist/engines/idle-reaper-main.js (under vitest, this module is src/…/.ts: the built one is used). */
function reaperScript(): string {
  const here = fileURLToPath(import.meta.url);
  const script = here.endsWith(".ts") ? here.replace(/[/\\]src[/\\]engines[/\\][^/\\]+\.ts$/, "/dist/engines/idle-reaper-main.js") : join(here, "..", "idle-reaper-main.js");
  if (!existsSync(script)) throw new ChainetteError("ENGINE_CONFIG", `cannot find the idle reaper ${script} (build first: npm run build)`);
  return script;
}
