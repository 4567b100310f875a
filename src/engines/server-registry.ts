/**
 * The registry of managed `vllm serve` processes: one JSON record per server in
 * `STATE_DIR/servers/ID.json` (written through a temporary file and a rename), changed only under
 * the registry lock. The lock is an OS file lock taken through SQLite on `STATE_DIR/servers/.lock`
 * (`BEGIN EXCLUSIVE`), so the kernel drops it when its holder dies: no stale lock to detect, and a
 * reused pid means nothing. Sections under the lock are short (file reads, writes, a spawn); nothing
 * waits for a server while holding it.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { ChainetteError } from "../errors.js";
import { isSameProcess, type ProcessIdentity } from "./local-engine-state.js";

/** A process using a server: a run (its pid and start time) through one of its engines. */
export interface ServerUser extends ProcessIdentity {
  engine: string;
  /** What the run works on (its OUTDIR), when known. */
  run?: string;
}

export interface ServerRecord {
  /** The file name, a prefix of `fingerprint`. */
  id: string;
  /** sha256 of what makes two servers interchangeable: program, `serve` arguments but the port, devices (and the port when set). */
  fingerprint: string;
  /** The `vllm serve` process, leader of its own process group. */
  pid: number;
  start_time: string | null;
  /** The detached process that stops the server once it is idle (absent for a kept server). */
  reaper: ProcessIdentity | null;
  model: string;
  /** The `serve` arguments, as spawned. */
  args: string[];
  port: number;
  /** Base URL ending in `/v1`. */
  url: string;
  /** `CUDA_VISIBLE_DEVICES`, or null when the engine named no devices. */
  devices: number[] | null;
  /** Every engine name that asked for this server. */
  engines: string[];
  /** ISO 8601. */
  started_at: string;
  state: "starting" | "ready" | "stopping";
  /** Started (or reused) by `warmup`: never stopped for idleness, only by `kill`. */
  keep: boolean;
  idle_timeout_s: number;
  /** ISO 8601 of the moment the last user left; null while used. */
  idle_since: string | null;
  users: ServerUser[];
  log: string;
}

/** `STATE_DIR/servers`, created. */
export function serversDirectory(stateDir: string): string {
  const folder = join(stateDir, "servers");
  mkdirSync(folder, { recursive: true });
  return folder;
}

/** How long a command waits for another one's section under the lock. */
const LOCK_TIMEOUT_MS = 30_000;

/** Runs `section` holding the registry lock of `stateDir`. `section` must not wait on anything. */
export function withRegistryLock<T>(stateDir: string, section: () => T): T {
  const path = join(serversDirectory(stateDir), ".lock");
  const db = new Database(path, { timeout: LOCK_TIMEOUT_MS });
  try {
    db.pragma("journal_mode = MEMORY");
    try {
      db.exec("BEGIN EXCLUSIVE");
    } catch (error) {
      if ((error as { code?: unknown }).code === "SQLITE_BUSY") {
        throw new ChainetteError("ENGINE_DOWN", `the server registry ${path} stayed locked for ${LOCK_TIMEOUT_MS / 1000} s by another chainette-stream command`, { cause: error });
      }
      throw error;
    }
    try {
      return section();
    } finally {
      db.exec("ROLLBACK");
    }
  } finally {
    db.close();
  }
}

/** Every record (hand-edited or torn files are skipped). Read under the lock to act on them. */
export function readRecords(stateDir: string): ServerRecord[] {
  const folder = join(stateDir, "servers");
  if (!existsSync(folder)) return []; // never created by a look: a run without vllm_local leaves no trace
  const records: ServerRecord[] = [];
  for (const name of readdirSync(folder)) {
    if (!name.endsWith(".json")) continue;
    const record = readRecord(stateDir, name.slice(0, -".json".length));
    if (record !== undefined) records.push(record);
  }
  return records.sort((a, b) => a.started_at.localeCompare(b.started_at));
}

export function readRecord(stateDir: string, id: string): ServerRecord | undefined {
  try {
    const parsed = JSON.parse(readFileSync(join(stateDir, "servers", `${id}.json`), "utf8")) as Partial<ServerRecord>;
    if (typeof parsed.pid !== "number" || typeof parsed.id !== "string" || !Array.isArray(parsed.users)) return undefined;
    return parsed as ServerRecord;
  } catch {
    return undefined;
  }
}

export function writeRecord(stateDir: string, record: ServerRecord): void {
  const path = join(serversDirectory(stateDir), `${record.id}.json`);
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(record, null, 2)}\n`);
  renameSync(temporary, path);
}

export function deleteRecord(stateDir: string, id: string): void {
  try {
    unlinkSync(join(serversDirectory(stateDir), `${id}.json`));
  } catch {
    // already gone
  }
}

/**
 * Brings one record up to date (under the lock): `gone` when its server process is dead (the
 * record is deleted), else users whose process died are dropped and the idle clock starts when the
 * last one goes. Writes the record when it changed.
 */
export function refreshRecord(stateDir: string, record: ServerRecord, now = new Date()): "gone" | "alive" {
  if (!isSameProcess({ pid: record.pid, start_time: record.start_time })) {
    deleteRecord(stateDir, record.id);
    return "gone";
  }
  const users = record.users.filter((user) => isSameProcess(user));
  const changed = users.length !== record.users.length || (users.length === 0 && record.idle_since === null);
  if (changed) {
    record.users = users;
    if (users.length === 0 && record.idle_since === null) record.idle_since = now.toISOString();
    writeRecord(stateDir, record);
  }
  return "alive";
}

/** Milliseconds until an idle record may be stopped (<= 0: now), or undefined when it is used or kept. */
export function idleRemainingMs(record: ServerRecord, now = Date.now()): number | undefined {
  if (record.keep || record.users.length > 0 || record.idle_since === null) return undefined;
  return Date.parse(record.idle_since) + record.idle_timeout_s * 1000 - now;
}
