/**
 * Input/output format throughput: rows/s and peak RSS for reading 1M JSONL rows, ASCII and
 * multilingual (each against a split2 + JSON.parse baseline measured in the same run), reading a 1M-row ZSTD Parquet file, and
 * writing 1M rows to Parquet shards. Each case runs in its own process so its peak RSS is its own.
 *
 *   node --import tsx bench/io-formats.ts [rows]      (inputs are generated into .bench-data/)
 */
import { spawnSync } from "node:child_process";
import { createReadStream, existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import split2 from "split2";
import { DuckDBInstance } from "@duckdb/node-api";
import { openSource } from "../src/io/open-source.js";
import { jsonColumn, parquetColumnsFromJsonSchema, stringColumn } from "../src/io/parquet-columns.js";
import { writeParquetShard } from "../src/io/parquet-writer.js";

const DATA = join(import.meta.dirname, "../.bench-data");
const ROWS = Number(process.argv[2] ?? 1_000_000);
const JSONL = join(DATA, `rows-${ROWS}.jsonl`);
/** The same shape of rows in French, German, Chinese and Japanese: every read block is non-ASCII. */
const MULTILINGUAL = join(DATA, `multilingual-${ROWS}.jsonl`);
const PARQUET = join(DATA, `rows-${ROWS}.parquet`);
const SHARD_ROWS = 100_000;

const cases: Record<string, () => Promise<number>> = {
  "JSONL baseline: split2 + JSON.parse": () => splitAndParse(JSONL),
  "JSONL source (openSource, batches of 256)": () => countRows(JSONL),
  "multilingual JSONL baseline: split2 + JSON.parse": () => splitAndParse(MULTILINGUAL),
  "multilingual JSONL source (openSource, batches of 256)": () => countRows(MULTILINGUAL),
  "Parquet source, ZSTD (hyparquet)": () => countRows(PARQUET),
  "Parquet shards written, 100k rows each (hyparquet-writer, 16 KiB pages: the default)": () => writeShards(16_384),
  "same, 1 MiB pages (the writer's default before the viewer read Parquet pages)": () => writeShards(1024 * 1024),
};

/** 1M answer rows written as Parquet shards of `SHARD_ROWS`, data pages of `pageSize` bytes. */
async function writeShards(pageSize: number): Promise<number> {
  const columns = [
    stringColumn("row_id"),
    ...parquetColumnsFromJsonSchema({
      type: "object",
      properties: { answer: { type: "string" }, confidence: { type: "number" }, votes: { type: "integer" }, tags: { type: "array", items: { type: "string" } } },
      required: ["answer", "confidence", "votes", "tags"],
    }),
    jsonColumn("error"),
  ];
  const folder = join(DATA, "shards");
  rmSync(folder, { recursive: true, force: true });
  mkdirSync(folder, { recursive: true });
  for (let shard = 0; shard * SHARD_ROWS < ROWS; shard++) {
    const rows = Array.from({ length: Math.min(SHARD_ROWS, ROWS - shard * SHARD_ROWS) }, (_, offset) => {
      const index = shard * SHARD_ROWS + offset;
      return { row_id: String(index), answer: `The answer to question ${index} is ${index % 97}.`, confidence: (index % 100) / 100, votes: index, tags: ["a", `t${index % 13}`], error: null };
    });
    await writeParquetShard(join(folder, `${String(shard).padStart(3, "0")}.parquet`), rows, columns, { pageSize });
  }
  return ROWS;
}

/** The baseline: split2's lines, each parsed. */
async function splitAndParse(path: string): Promise<number> {
  let rows = 0;
  for await (const line of createReadStream(path).pipe(split2())) if ((line as string).length > 0 && JSON.parse(line as string)) rows++;
  return rows;
}

async function countRows(path: string): Promise<number> {
  let rows = 0;
  for await (const batch of (await openSource(path)).read({ row: 0 }, { batchSize: 256 })) rows += batch.length;
  return rows;
}

async function generateInputs(): Promise<void> {
  mkdirSync(DATA, { recursive: true });
  if (!existsSync(JSONL)) {
    const topics = ["physics", "history", "cooking", "law", "music"];
    const lines: string[] = [];
    for (let index = 0; index < ROWS; index++) {
      const text = `Question ${index}: what is the best way to explain ${topics[index % 5]} to a curious twelve-year-old who likes puzzles and long walks?`;
      lines.push(JSON.stringify({ id: index, text, topic: topics[index % 5], score: (index % 1000) / 10, tags: ["t1", "t2"], meta: { source: "bench" } }));
    }
    writeFileSync(JSONL, lines.join("\n") + "\n");
  }
  if (!existsSync(MULTILINGUAL)) {
    const words = ["données", "流式处理", "東京", "naïve", "résumé", "Straße", "日本語", "batch", "token", "registre"];
    const lines: string[] = [];
    for (let index = 0; index < ROWS; index++) {
      const text = Array.from({ length: 20 }, (_, k) => words[(index * 7 + k * 3) % words.length]).join(" ");
      lines.push(JSON.stringify({ id: index, text, score: (index % 1000) / 10 }));
    }
    writeFileSync(MULTILINGUAL, lines.join("\n") + "\n");
  }
  if (!existsSync(PARQUET)) {
    const connection = await (await DuckDBInstance.create(":memory:")).connect();
    await connection.run(`COPY (SELECT * FROM read_json('${JSONL}')) TO '${PARQUET}' (FORMAT parquet, COMPRESSION zstd)`);
    connection.closeSync();
  }
}

async function runCase(name: string): Promise<void> {
  const run = cases[name];
  if (run === undefined) throw new Error(`unknown case ${name}`);
  const started = process.hrtime.bigint();
  const rows = await run();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  process.stdout.write(JSON.stringify({ rows, seconds, peakRssMb: process.resourceUsage().maxRSS / 1024 }) + "\n");
}

async function main(): Promise<void> {
  await generateInputs();
  console.log(`| case (${ROWS} rows, Node ${process.version}) | rows/s | peak RSS |`);
  console.log("|---|---|---|");
  for (const name of Object.keys(cases)) {
    const child = spawnSync(process.execPath, [...process.execArgv, import.meta.filename, String(ROWS), "--case", name], { encoding: "utf8" });
    if (child.status !== 0) throw new Error(`${name} failed: ${child.stderr}`);
    const result = JSON.parse(child.stdout.trim().split("\n").at(-1) ?? "{}") as { rows: number; seconds: number; peakRssMb: number };
    if (result.rows !== ROWS) throw new Error(`${name} counted ${result.rows} rows, expected ${ROWS}`);
    console.log(`| ${name} | ${Math.round(result.rows / result.seconds).toLocaleString("en-US")} | ${Math.round(result.peakRssMb)} MB |`);
  }
}

const caseIndex = process.argv.indexOf("--case");
await (caseIndex === -1 ? main() : runCase(process.argv[caseIndex + 1] ?? ""));
