/**
 * One process at a time holds an OUTDIR. The lock is an OS file lock, so the kernel drops it when
 * the holder dies (SIGKILL, OOM, power cut): a dead holder never blocks a resume, and a reused pid
 * or another host's pid means nothing. It is taken through SQLite on the empty file `OUTDIR/.lock`
 * (`locking_mode=EXCLUSIVE`, `journal_mode=MEMORY`, then `BEGIN EXCLUSIVE; ROLLBACK`, which keeps
 * the lock and writes nothing): SQLite's unix VFS tracks locks per file, so two connections in one process conflict as
 * two processes do, which a bare `fcntl` lock would not. Who holds it (pid, host, start time,
 * command) is written beside it to `OUTDIR/.lock.json`, since a locked database cannot be read.
 *
 * Nothing may open `.lock` except through SQLite: closing any descriptor of a file drops the
 * process's POSIX locks on it. `.lock` is never deleted (a process waiting on the old inode and one
 * creating a new file would then both hold "the" lock); `.lock.json` is deleted before the release.
 */
import { existsSync, readFileSync, unlinkSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { ChainetteError } from "../errors.js";
import { writeJsonAtomic } from "./write-json-atomic.js";

/** The lock file and the holder's details, both in OUTDIR. Entries named `.lock*` belong to the lock. */
export const LOCK_FILE = ".lock";
export const HOLDER_FILE = ".lock.json";

export interface LockHolder {
  pid: number;
  host: string;
  /** ISO time the holder took the lock. */
  started_at: string;
  command: string;
}

export interface OutDirLock {
  readonly holder: LockHolder;
  /** Deletes `.lock.json` and drops the lock. Idempotent. */
  release(): void;
}

/**
 * How long a taker waits for the lock. Not for another run (that one holds it for hours): for a
 * `readOutDirHolder` probe, which holds a read lock for microseconds.
 */
const PROBE_GRACE_MS = 100;

/**
 * Takes OUTDIR's lock (OUTDIR must exist) or throws `OUTDIR_LOCKED` naming the holder. Nothing
 * else in OUTDIR is touched either way.
 */
export function lockOutDir(outDir: string, command: string): OutDirLock {
  const path = join(outDir, LOCK_FILE);
  let db: Database.Database;
  try {
    db = new Database(path, { timeout: PROBE_GRACE_MS });
  } catch (error) {
    throw new ChainetteError("USAGE", `cannot open the lock file ${path}: ${(error as Error).message}`, { cause: error });
  }
  try {
    db.pragma("locking_mode = EXCLUSIVE");
    // No journal file beside it: the transaction only takes the lock, it never writes.
    db.pragma("journal_mode = MEMORY");
    db.exec("BEGIN EXCLUSIVE; ROLLBACK;");
  } catch (error) {
    db.close();
    if ((error as { code?: unknown }).code === "SQLITE_BUSY") throw lockedError(outDir, readHolderFile(outDir));
    throw new ChainetteError("USAGE", `cannot take the lock ${path} (${(error as Error).message}); it is not a file chainette-stream wrote: delete it and run again`, { cause: error });
  }
  const holder: LockHolder = { pid: process.pid, host: hostname(), started_at: new Date().toISOString(), command };
  const holderPath = join(outDir, HOLDER_FILE);
  try {
    writeJsonAtomic(holderPath, holder);
  } catch (error) {
    db.close();
    throw new ChainetteError("DISK", `cannot write ${holderPath}: ${(error as Error).message}`, { cause: error });
  }
  let held = true;
  return {
    holder,
    release() {
      if (!held) return;
      held = false;
      try {
        unlinkSync(holderPath);
      } catch {
        // Already gone (a full disk, a hand): the lock itself still has to go.
      }
      db.close();
    },
  };
}

/**
 * Who holds, or last held, OUTDIR's lock, and whether that holder is alive (it still has the lock).
 * `holder` is undefined when no run took the lock since it last released it, or while a taker is
 * between taking the lock and writing `.lock.json`. Reading does not disturb a live holder.
 */
export function readOutDirHolder(outDir: string): { holder: LockHolder | undefined; live: boolean } {
  return { holder: readHolderFile(outDir), live: isLocked(outDir) };
}

function isLocked(outDir: string): boolean {
  const path = join(outDir, LOCK_FILE);
  if (!existsSync(path)) return false;
  const db = new Database(path, { readonly: true, fileMustExist: true, timeout: 0 });
  try {
    db.prepare("SELECT count(*) FROM sqlite_master").get();
    return false;
  } catch (error) {
    // Anything else (a .lock that is not a database) is a file no live run could have locked.
    return (error as { code?: unknown }).code === "SQLITE_BUSY";
  } finally {
    db.close();
  }
}

function readHolderFile(outDir: string): LockHolder | undefined {
  try {
    return JSON.parse(readFileSync(join(outDir, HOLDER_FILE), "utf8")) as LockHolder;
  } catch {
    return undefined;
  }
}

function lockedError(outDir: string, holder: LockHolder | undefined): ChainetteError {
  const sameProcess = holder !== undefined && holder.pid === process.pid && holder.host === hostname();
  const who =
    holder === undefined
      ? "another process (it has not written its details to .lock.json yet)"
      : `${sameProcess ? "this process, in an earlier runJob call that has not returned" : "another chainette-stream run"}: pid ${holder.pid} on ${holder.host}, started ${holder.started_at}, command: ${holder.command}`;
  return new ChainetteError(
    "OUTDIR_LOCKED",
    `${outDir} is in use by ${who}.\nNothing was changed. Wait for that run to end (or stop it: Ctrl-C, or kill ${holder?.pid ?? "<pid>"}), then run the same command to resume.`,
  );
}
