/** `chainette-stream run CHAIN_FILE[:EXPORT] -i INPUT -o OUTDIR [options]`. */
import { parseArgs } from "node:util";
import { loadEnginesYaml } from "../engines/engines-yaml.js";
import { resolveEngineConfigs } from "../engines/resolve-engine-configs.js";
import { ChainetteError, isChainetteError } from "../errors.js";
import { RunEvents } from "../pipeline/events.js";
import { RunControl } from "../job/run-control.js";
import { RunMetrics } from "../job/run-metrics.js";
import { runJob } from "../job/run-job.js";
import { resolveShard, shardRunFolder } from "../job/shard-spec.js";
import { EXIT, exitCodeFor } from "./exit-codes.js";
import { jsonLogger } from "./json-logger.js";
import { loadChain } from "./load-chain.js";
import { parseCircuitBreaker, parseColumns, parseInteger, parseRate } from "./option-values.js";
import { ProgressView, type ViewMode } from "./progress-view.js";
import { RunStats } from "./run-stats.js";
import { printSummary } from "./print-summary.js";
import { printDryRun, printEstimate } from "./preview-command.js";
import { resumeInvocation } from "./resume-invocation.js";
import { startMetricsServer, type MetricsServer } from "./metrics-server.js";

export const RUN_HELP = `Usage: chainette-stream run CHAIN_FILE[:EXPORT] -i INPUT -o OUTDIR [options]

Runs a chain over INPUT into OUTDIR. Running the same command again resumes.

Input:
  -i, --input PATH            .jsonl .json .csv .parquet .arrow (optionally .gz), a folder of
                              Parquet shards or a Hugging Face save_to_disk folder, or - for stdin
  --split NAME                split of a DatasetDict folder
  --columns a,b,new=old       select and rename input columns
  --limit N                   stop after N input rows
Many machines (docs/scale-out.md):
  --shard I/N|auto            run part I (0-based) of N of the input in OUTDIR/shards/0000I-of-0000N/;
                              auto reads a Slurm array's or a Kubernetes Indexed Job's environment;
                              then \`chainette-stream merge OUTDIR\` once every shard is complete
  --shard-count N             the count for --shard auto on Kubernetes (or CHAINETTE_SHARD_COUNT);
                              on Slurm, the array index is then the shard (resubmit one index alone)
Output:
  -o, --output DIR            output folder (required)
  --format jsonl|parquet      shard format (default jsonl); parquet columns are typed from the schemas
  --max-lines-per-file N      lines per shard (default 10000)
  --commit-interval MS        time between commits (default 1000); each commit fsyncs the shards
  --fresh                     discard an earlier run in OUTDIR (and OUTDIR's response cache)
  --cache DIR                 keep the response cache in DIR/cache.sqlite, shared by runs and
                              OUTDIRs (default OUTDIR/cache.sqlite)
  --no-cache                  no response cache: every reply is requested (a changed chain is then
                              refused instead of rerun from the cache)
  --retry-errors              run the rows that failed in earlier sessions again
  --repair                    redo the rows of committed shards that are damaged or missing
                              (instead of refusing to resume); jsonl only
  --write-filtered            also write filtered/: one record per filtered row (row_id, node,
                              input); part of the run, so a resume must keep the same choice
Before a run (nothing is written, OUTDIR may be left out):
  --dry-run N                 print the first N rows' prompts and each step's request; sends nothing
  --estimate N                run the first N rows, then print projected tokens, time and cost
                              (prices: price_per_million_input_tokens / _output_tokens per engine)
Engines:
  --engines FILE              engines YAML (entries override registerEngine of the same name)
  --endpoint NAME=URL         override one engine's endpoint (repeatable)
  --concurrency N             requests in flight per engine (default 256)
  --batch-size N              rows per micro-batch (default 256)
  --engine-down-timeout S     seconds to wait for a down engine before stopping (default 300)
  --max-error-rate X          stop (resumably) when more than X (0-1) of the rows fail
  --circuit-breaker N:RATE|off
                              stop (resumably, CIRCUIT_OPEN) when more than RATE of the last N
                              finished rows failed (default 100:0.9); off turns it off
  --grace S                   seconds in-flight rows get to finish after Ctrl-C (default 30)
Display:
  --quiet                     print only the final summary
  --json-logs                 pino JSON events on stderr instead of the live view
  --metrics-port N            Prometheus metrics at http://127.0.0.1:N/metrics while the run goes
                              (0 picks a free port; its URL is printed on stderr)
`;

export const RUN_OPTIONS = {
  input: { type: "string", short: "i" },
  output: { type: "string", short: "o" },
  split: { type: "string" },
  columns: { type: "string" },
  limit: { type: "string" },
  shard: { type: "string" },
  "shard-count": { type: "string" },
  format: { type: "string" },
  "max-lines-per-file": { type: "string" },
  "commit-interval": { type: "string" },
  fresh: { type: "boolean" },
  cache: { type: "string" },
  "no-cache": { type: "boolean" },
  "retry-errors": { type: "boolean" },
  repair: { type: "boolean" },
  "write-filtered": { type: "boolean" },
  "dry-run": { type: "string" },
  estimate: { type: "string" },
  engines: { type: "string" },
  endpoint: { type: "string", multiple: true },
  concurrency: { type: "string" },
  "batch-size": { type: "string" },
  "engine-down-timeout": { type: "string" },
  "max-error-rate": { type: "string" },
  "circuit-breaker": { type: "string" },
  grace: { type: "string" },
  "metrics-port": { type: "string" },
  quiet: { type: "boolean" },
  "json-logs": { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

export async function runCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: RUN_OPTIONS,
  });
  if (values.help) {
    process.stdout.write(RUN_HELP);
    return EXIT.ok;
  }
  const chainArgument = positionals[0];
  const previewing = values["dry-run"] !== undefined || values.estimate !== undefined;
  if (chainArgument === undefined || values.input === undefined || (values.output === undefined && !previewing)) {
    throw new ChainetteError("USAGE", `run needs CHAIN_FILE, -i INPUT and -o OUTDIR\n\n${RUN_HELP}`);
  }
  const format = values.format ?? "jsonl";
  if (format !== "jsonl" && format !== "parquet") {
    throw new ChainetteError("USAGE", `Expected \`--format\` to be jsonl or parquet, got \`${format}\``);
  }
  const { chain } = await loadChain(chainArgument);
  const yaml = values.engines === undefined ? [] : await loadEnginesYaml(values.engines);
  const engines = resolveEngineConfigs({ yaml, endpointOverrides: values.endpoint ?? [] });
  if (previewing) {
    const limit = values.limit === undefined ? undefined : parseInteger("--limit", values.limit, 0);
    const columns = values.columns === undefined ? undefined : parseColumns(values.columns);
    const source = { ...(values.split === undefined ? {} : { split: values.split }), ...(columns === undefined ? {} : { columns }), ...(limit === undefined ? {} : { limit }) };
    const preview = { chain, input: values.input, engines, source, json: values["json-logs"] ?? false, concurrency: parseInteger("--concurrency", values.concurrency, 256, 1), batchSize: parseInteger("--batch-size", values["batch-size"], 256, 1) };
    if (values["dry-run"] !== undefined) await printDryRun(parseInteger("--dry-run", values["dry-run"], 1, 1), preview);
    else await printEstimate(parseInteger("--estimate", values.estimate, 1, 1), preview);
    return EXIT.ok;
  }
  if (values.output === undefined) throw new ChainetteError("USAGE", `run needs -o OUTDIR\n\n${RUN_HELP}`);
  if (values["shard-count"] !== undefined && values.shard === undefined) throw new ChainetteError("USAGE", "--shard-count goes with --shard auto");
  if (values.shard !== undefined && values.limit !== undefined) throw new ChainetteError("USAGE", "--limit and --shard do not go together: a shard runs its whole part of the input");
  const shard = values.shard === undefined ? undefined : resolveShard(values.shard, process.env, values["shard-count"]);
  const outDir = shard === undefined ? values.output : shardRunFolder(values.output, shard);

  const events = new RunEvents();
  const stats = new RunStats();
  const mode: ViewMode = values.quiet ? "quiet" : values["json-logs"] ? "json" : process.stderr.isTTY ? "tty" : "lines";
  const logger = mode === "json" ? await jsonLogger() : undefined;
  const view = new ProgressView({ mode, stats, chainName: chain.name, ...(logger ? { logger } : {}) });
  events.on(stats.onEvent);
  events.on(view.onEvent, mode === "json" ? { rows: ["row-failed"] } : {});
  let metricsServer: MetricsServer | undefined;
  if (values["metrics-port"] !== undefined) {
    const metrics = new RunMetrics();
    events.on(metrics.onEvent);
    metricsServer = await startMetricsServer(metrics, parseInteger("--metrics-port", values["metrics-port"], 0));
    if (mode !== "json") process.stderr.write(`metrics at ${metricsServer.url}\n`);
    else logger?.info({ event: "metrics", url: metricsServer.url }, "metrics");
  }

  const graceMs = parseInteger("--grace", values.grace, 30) * 1000;
  const control = new RunControl(graceMs);
  let interrupted = false;
  let signalledTwice = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    interrupted = true;
    const reason = signal === "SIGINT" ? "Ctrl-C" : signal;
    if (control.requestStop(reason)) {
      events.emit({ type: "stop-requested", reason, graceMs });
      return;
    }
    if (signalledTwice || control.signal.aborted) return;
    signalledTwice = true;
    control.abort(`${reason} again: abandoning the rows in flight`);
  };
  // A second signal or the grace running out cancels the rows in flight: say so, once.
  control.signal.addEventListener("abort", () => {
    if (control.stopRequested) events.emit({ type: "stop-forced", by: signalledTwice ? "signal" : "grace", graceMs });
  }, { once: true });
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  view.start();
  try {
    const maxErrorRate = values["max-error-rate"] === undefined ? undefined : parseRate("--max-error-rate", values["max-error-rate"]);
    const circuitBreaker = values["circuit-breaker"] === undefined ? undefined : parseCircuitBreaker(values["circuit-breaker"]);
    const limit = values.limit === undefined ? undefined : parseInteger("--limit", values.limit, 0);
    const columns = values.columns === undefined ? undefined : parseColumns(values.columns);
    const result = await runJob({
      chain,
      input: values.input,
      outDir,
      engines,
      events,
      invocation: resumeInvocation(shard === undefined ? argv : withExplicitShard(argv, shard), RUN_OPTIONS),
      format,
      maxLinesPerFile: parseInteger("--max-lines-per-file", values["max-lines-per-file"], 10_000, 1),
      batchSize: parseInteger("--batch-size", values["batch-size"], 256, 1),
      commitIntervalMs: parseInteger("--commit-interval", values["commit-interval"], 1000, 10),
      concurrency: parseInteger("--concurrency", values.concurrency, 256, 1),
      engineDownTimeoutMs: parseInteger("--engine-down-timeout", values["engine-down-timeout"], 300, 1) * 1000,
      fresh: values.fresh ?? false,
      ...cacheOption(values.cache, values["no-cache"]),
      countTotal: mode !== "quiet",
      retryErrors: values["retry-errors"] ?? false,
      repair: values.repair ?? false,
      writeFiltered: values["write-filtered"] ?? false,
      control,
      ...(shard === undefined ? {} : { shard: { ...shard, jobDir: values.output } }),
      source: {
        ...(values.split === undefined ? {} : { split: values.split }),
        ...(columns === undefined ? {} : { columns }),
        ...(limit === undefined ? {} : { limit }),
      },
      ...(maxErrorRate === undefined ? {} : { maxErrorRate }),
      ...(circuitBreaker === undefined ? {} : { circuitBreaker }),
    });
    view.stop();
    // A stop that cancelled the rows in flight was said when it happened (`stop-forced`): no error to add.
    const stoppedBySignal = interrupted && result.status === "stopped";
    printSummary(result.summary, outDir, stoppedBySignal ? undefined : result.error, logger);
    if (interrupted) return EXIT.interrupted;
    if (result.error !== undefined) return isChainetteError(result.error) ? exitCodeFor(result.error) : EXIT.failure;
    return EXIT.ok;
  } finally {
    view.stop();
    await metricsServer?.close();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

function cacheOption(dir: string | undefined, off: boolean | undefined): { cache?: string | false } {
  if (off === true && dir !== undefined) throw new ChainetteError("USAGE", "--cache and --no-cache exclude each other: give one");
  if (off === true) return { cache: false };
  return dir === undefined ? {} : { cache: dir };
}

/**
 * The command line with `--shard auto` (and `--shard-count`) replaced by the shard it resolved to,
 * so the resume command printed and stored runs the same shard outside the scheduler too.
 */
function withExplicitShard(argv: readonly string[], shard: { index: number; count: number }): string[] {
  const words: string[] = [];
  for (let position = 0; position < argv.length; position++) {
    const word = argv[position] as string;
    if (word === "--") {
      words.push(...argv.slice(position));
      break;
    }
    if (word === "--shard" || word === "--shard-count") position++;
    else if (!word.startsWith("--shard=") && !word.startsWith("--shard-count=")) words.push(word);
  }
  return [...words, "--shard", `${shard.index}/${shard.count}`];
}
