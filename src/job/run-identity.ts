/**
 * What makes earlier results valid: everything that changes what a row's output is. The chain (each
 * node's fingerprint: prompts, schemas, sampling, code, the engine's name), what each engine a step
 * uses brings to its replies (backend, model, dtype, reasoning), the input's bytes and `--columns`,
 * the output format and `--write-filtered` (it adds the `filtered/` folder). Nothing else: endpoints and API keys (hosts move), concurrency, timeouts,
 * retries, batch size, shard size and `--limit` may change between sessions. A resume with a
 * different identity is refused, naming what changed.
 */
import { realpath } from "node:fs/promises";
import type { ChainPlan } from "../core/plan.js";
import type { EngineConfig } from "../engines/engine.js";
import { ChainetteError } from "../errors.js";
import { grewFrom, headTailSample } from "../io/input-fingerprint.js";
import type { InputFileFingerprint, InputFingerprint } from "../io/source.js";
import type { Ledger } from "../durability/ledger.js";
import type { ShardSpec } from "./shard-spec.js";

/** The fields of an engine that change its replies to the same request. */
export const ENGINE_IDENTITY_FIELDS = ["backend", "model", "dtype", "enableReasoning", "reasoningParser"] as const;

export type EngineIdentity = Pick<EngineConfig, (typeof ENGINE_IDENTITY_FIELDS)[number]>;

export interface RunIdentity {
  chain: string;
  chainFingerprint: string;
  nodes: Record<string, string>;
  /** Each engine a step uses. Absent in ledgers written before engines were part of the identity. */
  engines?: Record<string, EngineIdentity>;
  input: InputFingerprint;
  format: string;
  /** `--write-filtered`: filtered leaves get a record in `filtered/`. Absent means off. */
  writeFiltered?: true;
  /** `--shard I/N`: the part of the input this run folder runs. Absent for a whole-input run. */
  shard?: ShardSpec;
}

export function runIdentity(plan: ChainPlan, input: InputFingerprint, format: string, engines: readonly EngineConfig[] = [], writeFiltered = false, shard?: ShardSpec): RunIdentity {
  const used = new Set(plan.nodes.flatMap((node) => (node.kind === "step" ? [node.engineName] : [])));
  const engineIdentities: Record<string, EngineIdentity> = {};
  for (const engine of engines) if (used.has(engine.name)) engineIdentities[engine.name] = engineIdentity(engine);
  return {
    chain: plan.name,
    chainFingerprint: plan.fingerprint,
    nodes: Object.fromEntries(plan.nodes.map((node) => [node.id, node.fingerprint])),
    engines: engineIdentities,
    input,
    format,
    ...(writeFiltered ? { writeFiltered: true as const } : {}),
    ...(shard === undefined ? {} : { shard: { index: shard.index, count: shard.count } }),
  };
}

function engineIdentity(engine: EngineConfig): EngineIdentity {
  const identity: Partial<Record<keyof EngineIdentity, unknown>> = {};
  for (const field of ENGINE_IDENTITY_FIELDS) if (engine[field] !== undefined) identity[field] = engine[field];
  return identity as EngineIdentity;
}

/** How this run's identity compares with the OUTDIR's. */
export type IdentityCheck =
  /** A new run (the identity is recorded now), or the same one: resume. */
  | { kind: "resume"; grown: readonly GrownFile[] }
  /**
   * Only the chain (nodes, structure, engines' models), the output format or `--write-filtered`
   * changed: a rerun from the response cache may start a new generation of results.
   */
  | { kind: "rerun"; changes: string[]; before: RunIdentity; grown: readonly GrownFile[] };

/** A JSONL input file that only grew since the run started: its new rows run, earlier ones are kept. */
export interface GrownFile {
  path: string;
  before: number;
  now: number;
}

/**
 * Compares this run's identity with the one the ledger holds (records it on a first run). A
 * changed input (other than a JSONL file that grew) or `--columns` throws `RUN_CHANGED` naming
 * every difference, and so does a changed chain when `rerun` is false (no response cache to reuse)
 * or when it is another chain (another name: a mistyped OUTDIR must not discard a run).
 * A ledger written before identity version 2 (paths as typed, mtimes, no engines, no `--columns`)
 * is compared compatibly and then upgraded.
 */
export async function checkRunIdentity(ledger: Ledger, identity: RunIdentity, options: { rerun?: boolean } = {}): Promise<IdentityCheck> {
  const stored = ledger.getMeta<RunIdentity>("identity");
  if (stored === undefined) {
    ledger.setMeta("identity", identity);
    // Into the main file at once: a -wal lost after a kill can then never lose the run's identity.
    ledger.checkpoint();
    return { kind: "resume", grown: [] };
  }
  const earlier = await upgradeIdentity(stored, identity);
  const grown = await grownFiles(earlier.input, identity.input);
  const inputProblems = inputChanges(earlier.input, identity.input, new Set(grown.map((file) => file.path)));
  const chainChanges = identityChanges(earlier, identity).filter((change) => !change.startsWith(INPUT_CHANGE_MARK));
  // Another chain's run (a mistyped OUTDIR) is never discarded for a rerun: only a changed version of the same chain.
  const sameChain = earlier.chain === identity.chain;
  if (inputProblems.length > 0 || (chainChanges.length > 0 && (options.rerun !== true || !sameChain))) {
    const changes = [...(sameChain || chainChanges.length === 0 ? [] : [`the OUTDIR holds a run of the chain \`${earlier.chain}\`, this is \`${identity.chain}\``]), ...chainChanges, ...inputProblems];
    const rerunNote = chainChanges.length > 0 && inputProblems.length === 0 && sameChain && options.rerun !== true ? " (with the response cache on, that is a rerun of the changed nodes: drop --no-cache)" : "";
    throw new ChainetteError(
      "RUN_CHANGED",
      `the OUTDIR holds a run whose results this run cannot reuse:\n${changes.map((change) => `  - ${change}`).join("\n")}\nRun with --fresh to discard it, or pick another OUTDIR${rerunNote}.`,
    );
  }
  if (chainChanges.length > 0) return { kind: "rerun", changes: chainChanges, before: earlier, grown };
  if (earlier !== stored || grown.length > 0) {
    ledger.setMeta("identity", identity);
    ledger.checkpoint();
  }
  return { kind: "resume", grown };
}

/**
 * JSONL files (not compressed) that only grew: each one's earlier bytes hash as they did, and the
 * old end is a line boundary (the old file ended with a newline, or the appended bytes start one).
 */
async function grownFiles(before: InputFingerprint, now: InputFingerprint): Promise<GrownFile[]> {
  if (now.format !== "jsonl" || before.format !== now.format || before.files.length !== now.files.length) return [];
  const grown: GrownFile[] = [];
  for (const [position, file] of before.files.entries()) {
    const current = now.files[position];
    if (current === undefined || current.path !== file.path || current.size <= file.size || file.path.endsWith(".gz")) continue;
    if (await grewFrom(current.path, file.size, file.sample)) grown.push({ path: file.path, before: file.size, now: current.size });
  }
  return grown;
}

/** Changes to the input are named with this prefix (see `inputChanges`). */
const INPUT_CHANGE_MARK = "the input";

/**
 * A stored identity in today's terms. An old one (no `input.version`) recorded each file by the
 * path as typed, its mtime and a hash of its first and last 64 KB: a file whose real path, size and
 * that hash still match counts as unchanged (its mtime does not matter any more); what it did not
 * record (engines, `--columns`) is taken as this run's, since that run did not check it either.
 */
export async function upgradeIdentity(stored: RunIdentity, now: RunIdentity): Promise<RunIdentity> {
  if (stored.input.version === 2) return stored;
  const files = await Promise.all(stored.input.files.map((file) => upgradeFile(file, now.input.files)));
  const input: InputFingerprint = { version: 2, path: stored.input.path, format: stored.input.format, files };
  if (now.input.columns !== undefined) input.columns = now.input.columns;
  return { ...stored, engines: stored.engines ?? now.engines ?? {}, input };
}

async function upgradeFile(old: InputFileFingerprint, current: readonly InputFileFingerprint[]): Promise<InputFileFingerprint> {
  let real: string;
  try {
    real = await realpath(old.path);
  } catch {
    return { path: old.path, size: old.size, sample: `v1:${old.sample}` };
  }
  const match = current.find((file) => file.path === real);
  if (match !== undefined && match.size === old.size) {
    const now = await headTailSample(real);
    if (now.size === old.size && now.sample === old.sample) return match;
  }
  return { path: real, size: old.size, sample: `v1:${old.sample}` };
}

/** Human-readable differences that invalidate earlier results; empty when the run may resume. */
export function identityChanges(before: RunIdentity, now: RunIdentity): string[] {
  const changes: string[] = [];
  for (const [id, fingerprint] of Object.entries(now.nodes)) {
    const earlier = before.nodes[id];
    if (earlier === undefined) changes.push(`node \`${id}\` is new`);
    else if (earlier !== fingerprint) changes.push(`node \`${id}\` changed (prompt, schema, engine name, sampling or code)`);
  }
  for (const id of Object.keys(before.nodes)) if (!(id in now.nodes)) changes.push(`node \`${id}\` was removed`);
  if (changes.length === 0 && before.chainFingerprint !== now.chainFingerprint) changes.push("the chain's structure (order, branches or joins) changed");
  changes.push(...engineChanges(before.engines ?? {}, now.engines ?? {}));
  if (before.format !== now.format) changes.push(`the output format changed from ${before.format} to ${now.format}`);
  if ((before.writeFiltered ?? false) !== (now.writeFiltered ?? false)) {
    changes.push(now.writeFiltered ? "--write-filtered is on now and was off (rows filtered earlier have no record in filtered/)" : "--write-filtered is off now and was on (filtered/ would miss this session's rows)");
  }
  const shardBefore = shardText(before.shard);
  const shardNow = shardText(now.shard);
  if (shardBefore !== shardNow) changes.push(`the shard changed from ${shardBefore} to ${shardNow} (each shard's rows were fixed when its folder was created)`);
  changes.push(...inputChanges(before.input, now.input));
  return changes;
}

/** Engines both runs use; an engine only one of them uses shows as a changed node. */
function engineChanges(before: Record<string, EngineIdentity>, now: Record<string, EngineIdentity>): string[] {
  const changes: string[] = [];
  for (const [name, engine] of Object.entries(now)) {
    const earlier = before[name];
    if (earlier === undefined) continue;
    for (const field of ENGINE_IDENTITY_FIELDS) {
      if (earlier[field] !== engine[field]) changes.push(`engine \`${name}\` ${field} changed from ${show(earlier[field])} to ${show(engine[field])}`);
    }
  }
  return changes;
}

function inputChanges(before: InputFingerprint, now: InputFingerprint, grown: ReadonlySet<string> = new Set()): string[] {
  const changes: string[] = [];
  const columnsBefore = columnsText(before.columns);
  const columnsNow = columnsText(now.columns);
  if (columnsBefore !== columnsNow) changes.push(`the input's --columns changed from ${columnsBefore} to ${columnsNow}`);
  if (before.files.length === 0 && now.files.length === 0) {
    // Pipes and stdin: nothing to sample, only the name to go by.
    if (before.path !== now.path) changes.push(`the input changed from ${before.path} to ${now.path}`);
    return changes;
  }
  const pathsBefore = before.files.map((file) => file.path);
  const pathsNow = now.files.map((file) => file.path);
  if (pathsBefore.join("\n") !== pathsNow.join("\n")) {
    changes.push(`the input changed from ${listPaths(pathsBefore, before.path)} to ${listPaths(pathsNow, now.path)}`);
    return changes;
  }
  before.files.forEach((file, position) => {
    const current = now.files[position];
    if (current === undefined || grown.has(current.path)) return;
    if (current.size !== file.size) changes.push(`the input ${current.path} changed (${file.size} bytes then, ${current.size} now)`);
    else if (current.sample !== file.sample) changes.push(`the input ${current.path} changed (same size, different content)`);
  });
  return changes;
}

function shardText(shard: ShardSpec | undefined): string {
  return shard === undefined ? "(the whole input)" : `${shard.index}/${shard.count}`;
}

function columnsText(columns: InputFingerprint["columns"]): string {
  if (columns === undefined) return "(all columns)";
  return `\`${columns.map((column) => (column.name === column.from ? column.name : `${column.name}=${column.from}`)).join(",")}\``;
}

function listPaths(paths: readonly string[], named: string): string {
  if (paths.length === 0) return named;
  if (paths.length <= 3) return paths.join(", ");
  return `${paths.slice(0, 3).join(", ")} and ${paths.length - 3} more files`;
}

function show(value: EngineIdentity[keyof EngineIdentity]): string {
  return value === undefined ? "(unset)" : String(value);
}
