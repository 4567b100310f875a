/**
 * A `vllm_local` engine: it leases its server from the broker (`server-broker.ts`), when the run
 * creates its engines or, when `lazy`, before its first request: a running managed server of the
 * same model and options (started by another branch, another run, a killed run or `warmup`), or a
 * new `vllm serve`. Requests then go through an `HttpEngine` as for `vllm_api`. `close()` releases
 * the lease; the server stops once no run has used it for `idle_timeout` seconds.
 */
import { ChainetteError } from "../errors.js";
import { checkServedModel } from "./check-served-model.js";
import type { EndpointState, Engine, EngineConfig, GenerateRequest, GenerateResult } from "./engine.js";
import { currentProcess } from "./local-engine-state.js";
import { acquireServer, type ServerLease } from "./server-broker.js";
import { checkLocalConfig } from "./vllm-serve-command.js";

export interface LocalVllmEngineOptions {
  /** Builds the HTTP engine once the server's URL is known (createEngine with backend vllm_api). */
  connect: (config: EngineConfig) => Engine;
  /** @default process.env */
  env?: Record<string, string | undefined>;
  /** Recorded with this engine's lease, for `ps` (a run's OUTDIR). */
  usedBy?: string;
  /** Grace between SIGTERM and SIGKILL when this engine stops the server (`idle_timeout: 0`). @default 30_000 */
  stopGraceMs?: number;
}

export class LocalVllmEngine implements Engine {
  readonly name: string;
  readonly config: EngineConfig;
  readonly #options: LocalVllmEngineOptions;
  readonly #abort = new AbortController();
  #ready: Promise<Engine> | undefined;
  /** The engine talking to the server, once it answers. */
  #connected: Engine | undefined;
  #lease: ServerLease | undefined;
  #closed = false;

  constructor(config: EngineConfig, options: LocalVllmEngineOptions) {
    checkLocalConfig(config);
    this.name = config.name;
    this.config = config;
    this.#options = options;
    // A non-lazy engine starts with the run; a lazy one before its first request.
    if (config.lazy !== true) this.#start().catch(() => undefined);
  }

  async generate(request: GenerateRequest): Promise<GenerateResult> {
    if (this.#closed) throw new ChainetteError("ABORTED", `Engine \`${this.name}\` is closed`);
    const engine = await this.#start();
    return engine.generate(request);
  }

  endpoints(): readonly EndpointState[] {
    return this.#connected?.endpoints?.() ?? [];
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#abort.abort();
    const engine = await this.#ready?.catch(() => undefined);
    await engine?.close();
    await this.#lease?.release(this.#options.stopGraceMs ?? 30_000);
  }

  #start(): Promise<Engine> {
    this.#ready ??= this.#resolve();
    return this.#ready;
  }

  async #resolve(): Promise<Engine> {
    const env = this.#options.env ?? process.env;
    const lease = await acquireServer(this.config, { env, user: { ...currentProcess(), engine: this.name, ...(this.#options.usedBy === undefined ? {} : { run: this.#options.usedBy }) }, signal: this.#abort.signal });
    if (this.#closed) {
      await lease.release(this.#options.stopGraceMs ?? 30_000);
      throw new ChainetteError("ABORTED", `Engine \`${this.name}\` is closed`);
    }
    const served = { ...this.config, backend: "vllm_api" as const, endpoint: lease.url };
    const problems = await checkServedModel(served, { env });
    this.#lease = lease;
    if (problems.length > 0) throw new ChainetteError("ENGINE_CONFIG", problems.join("\n"));
    this.#connected = this.#options.connect(served);
    return this.#connected;
  }
}
