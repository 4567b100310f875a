/**
 * `--shard I/N` and `--shard auto`: which part of the input this process runs, and where its run
 * folder lives (`OUTDIR/shards/00003-of-00016/`). `auto` reads the scheduler's environment: a Slurm
 * job array (`SLURM_ARRAY_TASK_ID` - `SLURM_ARRAY_TASK_MIN` of `SLURM_ARRAY_TASK_COUNT`; with
 * `--shard-count N`, `SLURM_ARRAY_TASK_ID` of N, so a single index can be resubmitted) or a
 * Kubernetes Indexed Job (`JOB_COMPLETION_INDEX`, with the count from `--shard-count N` or
 * `CHAINETTE_SHARD_COUNT`, since Kubernetes does not put `completions` in the environment).
 */
import { join } from "node:path";
import { ChainetteError } from "../errors.js";

export interface ShardSpec {
  /** 0-based. */
  index: number;
  count: number;
}

/** The folder under OUTDIR that holds every shard's run folder. */
export const SHARDS_FOLDER = "shards";

/** Shards a job may have: enough for any cluster, few enough that names stay 5 digits. */
export const MAX_SHARDS = 99_999;

const SHARD_FOLDER = /^(\d{5})-of-(\d{5})$/;

export function shardFolderName(shard: ShardSpec): string {
  return `${String(shard.index).padStart(5, "0")}-of-${String(shard.count).padStart(5, "0")}`;
}

/** The shard a folder name (`00003-of-00016`) stands for, or undefined when it is not one. */
export function parseShardFolderName(name: string): ShardSpec | undefined {
  const match = SHARD_FOLDER.exec(name);
  if (match === null) return undefined;
  const shard = { index: Number(match[1]), count: Number(match[2]) };
  return shard.index < shard.count ? shard : undefined;
}

/** The run folder of one shard of the job in `outDir`. */
export function shardRunFolder(outDir: string, shard: ShardSpec): string {
  return join(outDir, SHARDS_FOLDER, shardFolderName(shard));
}

/**
 * `--shard` as given (`I/N` or `auto`) in the environment `env`; `countOption` is `--shard-count`.
 * Every mistake is a USAGE error saying what to give.
 */
export function resolveShard(value: string, env: NodeJS.ProcessEnv, countOption?: string): ShardSpec {
  if (value === "auto") return shardFromEnvironment(env, countOption);
  if (countOption !== undefined) throw new ChainetteError("USAGE", "--shard-count goes with --shard auto; --shard I/N names the count itself");
  const match = /^(\d+)\/(\d+)$/.exec(value.trim());
  if (match === null) throw new ChainetteError("USAGE", `Expected \`--shard\` to be I/N (0-based, e.g. 3/16) or auto, got \`${value}\``);
  return checked(Number(match[1]), Number(match[2]), `--shard ${value}`);
}

function shardFromEnvironment(env: NodeJS.ProcessEnv, countOption: string | undefined): ShardSpec {
  const slurmId = env.SLURM_ARRAY_TASK_ID;
  if (slurmId !== undefined && slurmId !== "") {
    const id = integer(slurmId, "SLURM_ARRAY_TASK_ID");
    // --shard-count N: the array's indices are the shard indices, so one index can be resubmitted alone (sbatch --array=3).
    if (countOption !== undefined) return checked(id, integer(countOption, "--shard-count"), `Slurm array task ${id} with --shard-count ${countOption}`);
    const min = env.SLURM_ARRAY_TASK_MIN;
    const count = env.SLURM_ARRAY_TASK_COUNT;
    const missing = [min === undefined || min === "" ? "SLURM_ARRAY_TASK_MIN" : undefined, count === undefined || count === "" ? "SLURM_ARRAY_TASK_COUNT" : undefined].filter((name) => name !== undefined);
    if (missing.length > 0) throw new ChainetteError("USAGE", `--shard auto: SLURM_ARRAY_TASK_ID is set but ${missing.join(" and ")} ${missing.length > 1 ? "are" : "is"} not (submit with sbatch --array, or give --shard I/N)`);
    const first = integer(min as string, "SLURM_ARRAY_TASK_MIN");
    const total = integer(count as string, "SLURM_ARRAY_TASK_COUNT");
    // A stepped array (--array=0-15:2) has gaps: its indices do not number the shards 0..N-1.
    const max = env.SLURM_ARRAY_TASK_MAX;
    if (max !== undefined && max !== "" && integer(max, "SLURM_ARRAY_TASK_MAX") - first + 1 !== total) {
      throw new ChainetteError("USAGE", `--shard auto: the Slurm array ${first}-${max} has ${total} tasks, not one per index (a step or a list in --array?); submit --array=0-${total - 1} or give --shard I/N`);
    }
    return checked(id - first, total, `Slurm array task ${id} (min ${first}, count ${total})`);
  }
  const k8sIndex = env.JOB_COMPLETION_INDEX;
  if (k8sIndex !== undefined && k8sIndex !== "") {
    const count = countOption ?? env.CHAINETTE_SHARD_COUNT;
    if (count === undefined || count === "") {
      throw new ChainetteError("USAGE", "--shard auto: JOB_COMPLETION_INDEX is set (a Kubernetes Indexed Job) but the shard count is not: give --shard-count N or set CHAINETTE_SHARD_COUNT to the Job's completions");
    }
    return checked(integer(k8sIndex, "JOB_COMPLETION_INDEX"), integer(count, countOption === undefined ? "CHAINETTE_SHARD_COUNT" : "--shard-count"), `JOB_COMPLETION_INDEX ${k8sIndex}`);
  }
  throw new ChainetteError("USAGE", "--shard auto found no scheduler: neither SLURM_ARRAY_TASK_ID (a Slurm job array) nor JOB_COMPLETION_INDEX (a Kubernetes Indexed Job) is set; give --shard I/N instead");
}

function integer(text: string, name: string): number {
  if (!/^\d+$/.test(text.trim())) throw new ChainetteError("USAGE", `Expected ${name} to be a whole number, got \`${text}\``);
  return Number(text.trim());
}

function checked(index: number, count: number, what: string): ShardSpec {
  if (count < 1 || count > MAX_SHARDS) throw new ChainetteError("USAGE", `${what}: the shard count must be 1 to ${MAX_SHARDS}, got ${count}`);
  if (index >= count) throw new ChainetteError("USAGE", `${what}: shard index ${index} is not below the count ${count} (indices are 0-based)`);
  return { index, count };
}
