/**
 * A `llamacpp` engine: a GGUF model run in-process-ish by node-llama-cpp, for machines with no
 * server. Generation happens in a worker process (`llamacpp-worker.ts`), started before the first
 * request, because llama.cpp aborts its process on some malformed models; the engine turns such an
 * exit into an error:
 *
 * - the worker fails or dies while loading the model (a missing file, a broken GGUF, node-llama-cpp
 *   not installed): `ENGINE_CONFIG`, for that request and every later one. The run stops with the
 *   reason and the worker's last log lines; nothing is lost, the resume continues once it is fixed;
 * - it dies while generating: the requests in flight fail as `ENGINE_REQUEST` (their rows get error
 *   records, `--retry-errors` redoes them) and the next request starts a new worker. Three deaths
 *   in a row with no reply in between: `ENGINE_DOWN`, the run stops resumably.
 *
 * At most `concurrency` requests run at once, one per sequence of the model's context; others wait
 * in order. Replies are validated by the step executor like every backend's.
 */
import { fork, type ChildProcess } from "node:child_process";
import { statSync } from "node:fs";
import { availableParallelism } from "node:os";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { ChainetteError } from "../errors.js";
import type { Engine, EngineConfig, GenerateRequest, GenerateResult } from "./engine.js";
import { EngineRequestError } from "./engine-request-error.js";
import type { FromWorker, ToWorker } from "./llamacpp-messages.js";

/** Parallel sequences when the declaration sets no `concurrency`. */
export const defaultLlamaCppSequences = 4;
/** Worker deaths in a row (no reply in between) after which the engine is down. */
const maxConsecutiveDeaths = 3;
/** Lines of the worker's stderr quoted in errors. */
const logTailLines = 20;

/**
 * Threads for one llama.cpp context: 1 on machines with 2 cores or fewer (more threads than cores
 * made generation hundreds of times slower on 2 vCPUs), else half the cores (llama.cpp is memory
 * bound; the other half keeps the run's own work and the OS responsive).
 */
export function defaultLlamaCppThreads(cores = availableParallelism()): number {
  return cores <= 2 ? 1 : Math.floor(cores / 2);
}

interface Pending {
  id: number;
  request: GenerateRequest;
  started: number;
  resolve: (result: GenerateResult) => void;
  reject: (error: unknown) => void;
  onAbort?: () => void;
}

interface Worker {
  child: ChildProcess;
  ready: Promise<void>;
  log: string[];
}

export class LlamaCppEngine implements Engine {
  readonly name: string;
  readonly config: EngineConfig;
  readonly #sequences: number;
  readonly #threads: number;
  readonly #queue: Pending[] = [];
  readonly #inFlight = new Map<number, Pending>();
  #worker: Worker | undefined;
  #nextId = 1;
  #deaths = 0;
  #fatal: ChainetteError | undefined;
  #closed = false;

  constructor(config: EngineConfig) {
    this.name = config.name;
    this.config = config;
    this.#sequences = config.concurrency ?? defaultLlamaCppSequences;
    this.#threads = config.threads ?? defaultLlamaCppThreads();
    checkModelFile(config);
  }

  /** The worker's process id while one runs (for diagnostics and tests). */
  get workerPid(): number | undefined {
    return this.#worker?.child.pid;
  }

  /**
   * Starts the worker and loads the model now instead of at the first request; resolves once it
   * is loaded. Rejects as `generate` would (`ENGINE_CONFIG` for a model that does not load).
   */
  async load(): Promise<void> {
    if (this.#closed) throw new ChainetteError("ABORTED", `Engine \`${this.name}\` is closed`);
    if (this.#fatal !== undefined) throw this.#fatal;
    await this.#startWorker().ready;
  }

  generate(request: GenerateRequest): Promise<GenerateResult> {
    if (this.#closed) return Promise.reject(new ChainetteError("ABORTED", `Engine \`${this.name}\` is closed`));
    if (this.#fatal !== undefined) return Promise.reject(this.#fatal);
    if (request.signal?.aborted === true) return Promise.reject(abortReason(request.signal));
    return new Promise<GenerateResult>((resolvePromise, rejectPromise) => {
      const pending: Pending = { id: this.#nextId++, request, started: 0, resolve: resolvePromise, reject: rejectPromise };
      const signal = request.signal;
      if (signal !== undefined) {
        pending.onAbort = () => this.#abort(pending, abortReason(signal));
        signal.addEventListener("abort", pending.onAbort, { once: true });
      }
      this.#queue.push(pending);
      this.#pump();
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const closed = new ChainetteError("ABORTED", `Engine \`${this.name}\` is closed`);
    for (const pending of this.#queue.splice(0)) this.#settle(pending, closed);
    for (const pending of [...this.#inFlight.values()]) this.#settle(pending, closed);
    const worker = this.#worker;
    this.#worker = undefined;
    if (worker !== undefined) await stopWorker(worker.child);
  }

  #pump(): void {
    if (this.#closed || this.#fatal !== undefined) return;
    while (this.#queue.length > 0 && this.#inFlight.size < this.#sequences) {
      const pending = this.#queue.shift();
      if (pending === undefined) break;
      this.#inFlight.set(pending.id, pending);
      void this.#send(pending);
    }
  }

  async #send(pending: Pending): Promise<void> {
    const worker = this.#startWorker();
    try {
      await worker.ready;
    } catch (error) {
      this.#settle(pending, error);
      return;
    }
    if (!this.#inFlight.has(pending.id)) return; // aborted while the model loaded
    pending.started = performance.now();
    const { messages, sampling, schema } = pending.request;
    post(worker.child, { type: "generate", id: pending.id, messages, sampling, ...(schema === undefined ? {} : { jsonSchema: schema.jsonSchema }) });
  }

  #startWorker(): Worker {
    if (this.#worker !== undefined) return this.#worker;
    const { path, execArgv } = workerEntry();
    // GGML_NO_BACKTRACE: on a failed assert ggml would otherwise attach gdb to print a backtrace
    // (seconds, and nothing a user of a run can read).
    const env = { ...process.env, GGML_NO_BACKTRACE: "1" };
    const child = fork(path, [], { stdio: ["ignore", "pipe", "pipe", "ipc"], execArgv, env, serialization: "json" });
    const log: string[] = [];
    const keep = (chunk: Buffer): void => {
      // llama.cpp reports some errors twice: keep each line once.
      for (const line of chunk.toString("utf8").split("\n")) if (line.trim() !== "" && !log.includes(line)) log.push(line);
      if (log.length > logTailLines) log.splice(0, log.length - logTailLines);
    };
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    let loaded = false;
    let failLoad: (error: ChainetteError) => void = () => undefined;
    const ready = new Promise<void>((resolveReady, rejectReady) => {
      failLoad = (error) => {
        // Every request would fail the same way: this one and all later ones get the error.
        this.#fatal ??= error;
        rejectReady(error);
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
        for (const pending of this.#queue.splice(0)) this.#settle(pending, error);
      };
      child.on("message", (message: FromWorker) => {
        if (message.type === "ready") {
          loaded = true;
          resolveReady();
        } else if (message.type === "load-failed") {
          // Its own copy of llama.cpp's log: the stderr pipe may not have delivered it yet.
          for (const line of message.log) if (!log.includes(line)) log.push(line);
          failLoad(this.#loadError(message.message, message.missingPackage, log));
        } else {
          this.#reply(message);
        }
      });
    });
    ready.catch(() => undefined); // each request awaiting it gets the error
    child.on("error", (error) => failLoad(this.#loadError(error.message, false, log)));
    // "close", not "exit": by then stderr is read to its end (an abort's last words included).
    child.on("close", (code, signal) => {
      if (loaded) this.#died(worker, exitWords(code, signal));
      else failLoad(this.#loadError(`the worker process ${exitWords(code, signal)}`, false, log));
    });
    const worker: Worker = { child, ready, log };
    this.#worker = worker;
    post(child, {
      type: "load",
      modelPath: resolve(this.config.model),
      threads: this.#threads,
      sequences: this.#sequences,
      contextSize: this.config.contextSize,
      gpu: this.config.gpu === true,
    });
    return worker;
  }

  #reply(message: FromWorker): void {
    if (message.type !== "result" && message.type !== "failed") return;
    const pending = this.#inFlight.get(message.id);
    if (pending === undefined) return; // aborted meanwhile
    this.#deaths = 0;
    if (message.type === "failed") {
      this.#settle(pending, new EngineRequestError({ engine: this.name, message: `llamacpp engine \`${this.name}\`: ${message.message}`, attempts: 1 }));
      return;
    }
    this.#settle(pending, undefined, {
      text: message.text,
      finishReason: message.finishReason,
      usage: { inputTokens: message.inputTokens, outputTokens: message.outputTokens },
      attempts: 1,
      latencyMs: performance.now() - pending.started,
    });
  }

  #died(worker: Worker, how: string): void {
    if (this.#worker !== worker) return; // closed, or already replaced
    this.#worker = undefined;
    if (this.#closed || this.#fatal !== undefined) return;
    this.#deaths++;
    const tail = worker.log.length > 0 ? `; its last log lines:\n  ${worker.log.join("\n  ")}` : "";
    const lost = [...this.#inFlight.values()];
    if (this.#deaths >= maxConsecutiveDeaths) {
      this.#fatal = new ChainetteError(
        "ENGINE_DOWN",
        `llamacpp engine \`${this.name}\`: its worker process died ${this.#deaths} times in a row without a reply (last: ${how})${tail}`,
      );
      for (const pending of [...lost, ...this.#queue.splice(0)]) this.#settle(pending, this.#fatal);
      return;
    }
    for (const pending of lost) {
      this.#settle(pending, new EngineRequestError({ engine: this.name, message: `llamacpp engine \`${this.name}\`: the worker process ${how} while generating${tail}`, attempts: 1, bodySnippet: how }));
    }
    this.#pump();
  }

  #abort(pending: Pending, reason: unknown): void {
    const queued = this.#queue.indexOf(pending);
    if (queued >= 0) this.#queue.splice(queued, 1);
    else if (this.#inFlight.has(pending.id) && this.#worker !== undefined) post(this.#worker.child, { type: "abort", id: pending.id });
    this.#settle(pending, reason);
  }

  #settle(pending: Pending, error: unknown, result?: GenerateResult): void {
    this.#inFlight.delete(pending.id);
    if (pending.onAbort !== undefined) pending.request.signal?.removeEventListener("abort", pending.onAbort);
    if (result !== undefined) pending.resolve(result);
    else pending.reject(error);
    this.#pump();
  }

  #loadError(reason: string, missingPackage: boolean, log: readonly string[]): ChainetteError {
    if (missingPackage) {
      return new ChainetteError(
        "ENGINE_CONFIG",
        `Engine \`${this.name}\` (backend llamacpp) needs node-llama-cpp, an optional dependency that is not installed: run \`npm install node-llama-cpp\` (${reason})`,
      );
    }
    const tail = log.length > 0 ? `\n  ${log.join("\n  ")}` : "";
    return new ChainetteError("ENGINE_CONFIG", `Engine \`${this.name}\` (backend llamacpp) could not load the model ${resolve(this.config.model)}: ${reason}${tail}`);
  }
}

/** A missing model file is known before any worker starts. Throws `ENGINE_CONFIG`. */
function checkModelFile(config: EngineConfig): void {
  const path = resolve(config.model);
  let isFile = false;
  try {
    isFile = statSync(path).isFile();
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    throw new ChainetteError("ENGINE_CONFIG", `Engine \`${config.name}\` (backend llamacpp): cannot read the model file ${path} (${String(code ?? error)}); \`model\` is the path of a GGUF file`);
  }
  if (!isFile) throw new ChainetteError("ENGINE_CONFIG", `Engine \`${config.name}\` (backend llamacpp): the model ${path} is not a file; \`model\` is the path of a GGUF file`);
}

/** The worker's entry: the built `.js` beside this module, or the `.ts` source (run through tsx) in tests on the sources. */
function workerEntry(): { path: string; execArgv: string[] } {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith(".ts")) return { path: here.replace(/llamacpp-engine\.ts$/, "llamacpp-worker.ts"), execArgv: ["--import", "tsx"] };
  return { path: here.replace(/llamacpp-engine\.js$/, "llamacpp-worker.js"), execArgv: [] };
}

function post(child: ChildProcess, message: ToWorker): void {
  if (child.connected) child.send(message, (error) => error ?? undefined);
}

async function stopWorker(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolveExit) => child.once("exit", () => resolveExit()));
  post(child, { type: "close" });
  const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
  await exited;
  clearTimeout(timer);
}

function exitWords(code: number | null, signal: NodeJS.Signals | null): string {
  return signal !== null ? `was killed by ${signal}` : `exited with status ${code ?? "unknown"}`;
}

/** The signal's reason when it is an error (as other engines reject), else an `ABORTED` error. */
function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : new ChainetteError("ABORTED", "The request was aborted");
}
