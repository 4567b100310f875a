/**
 * The worker process of a `llamacpp` engine (forked by `LlamaCppEngine`, talking over IPC): it
 * imports node-llama-cpp, an optional dependency, only here, loads the GGUF model and generates.
 * llama.cpp aborts the whole process on some malformed models and inputs (a failed GGML_ASSERT);
 * running it here turns that into an exit the engine reports, instead of the end of the run.
 *
 * One context with `sequences` parallel sequences, each with a `LlamaChat` kept for the worker's
 * life, so the prompt prefix a sequence evaluated last time (system prompt, chat template) is
 * reused. A JSON schema becomes a grammar once per distinct schema.
 */
import type { ChatHistoryItem, Llama, LlamaChat, LlamaGrammar } from "node-llama-cpp";
import type { FromWorker, GenerateMessage, LoadMessage, ToWorker } from "./llamacpp-messages.js";

type NodeLlamaCpp = typeof import("node-llama-cpp");

interface Loaded {
  llama: Llama;
  free: LlamaChat[];
  grammars: Map<string, Promise<LlamaGrammar>>;
}

let loaded: Loaded | undefined;
const running = new Map<number, AbortController>();
/** llama.cpp's last log lines, sent with a failed load (stderr gets them too). */
const recentLog: string[] = [];
/** Requests that arrived while every sequence was busy, in order. */
const waiting: GenerateMessage[] = [];

function send(message: FromWorker): void {
  process.send?.(message);
}

// The engine's process is gone (it was killed, or it closed the channel): nothing to answer to.
process.on("disconnect", () => process.exit(0));

process.on("message", (message: ToWorker) => {
  switch (message.type) {
    case "load":
      void load(message);
      return;
    case "generate":
      void generate(message);
      return;
    case "abort": {
      running.get(message.id)?.abort();
      const index = waiting.findIndex((queued) => queued.id === message.id);
      if (index >= 0) waiting.splice(index, 1);
      return;
    }
    case "close":
      process.exit(0);
  }
});

async function load(message: LoadMessage): Promise<void> {
  let library: NodeLlamaCpp;
  try {
    library = await import("node-llama-cpp");
  } catch (error) {
    send({ type: "load-failed", message: describe(error), missingPackage: isMissingPackage(error), log: [] });
    return;
  }
  try {
    const llama = await library.getLlama({
      gpu: message.gpu ? "auto" : false,
      build: "never",
      maxThreads: message.threads,
      logLevel: library.LlamaLogLevel.error,
      logger: (_level, text) => {
        process.stderr.write(text.endsWith("\n") ? text : `${text}\n`);
        recentLog.push(...text.split("\n").filter((line) => line.trim() !== ""));
        recentLog.splice(0, Math.max(0, recentLog.length - 20));
      },
    });
    const model = await llama.loadModel({ modelPath: message.modelPath, gpuLayers: message.gpu ? "auto" : 0 });
    const context = await model.createContext({
      sequences: message.sequences,
      contextSize: message.contextSize ?? { max: 4096 },
      threads: message.threads,
    });
    const free: LlamaChat[] = [];
    for (let index = 0; index < message.sequences; index++) {
      free.push(new library.LlamaChat({ contextSequence: context.getSequence() }));
    }
    loaded = { llama, free, grammars: new Map() };
    send({ type: "ready", contextSize: context.contextSize, sequences: message.sequences });
  } catch (error) {
    // llama.cpp's log reaches the logger asynchronously, after the rejection: let it arrive, so
    // the error can say why (a missing key, a truncated tensor). An error path; the wait is cheap.
    await new Promise((resolveWait) => setTimeout(resolveWait, 200));
    send({ type: "load-failed", message: describe(error), missingPackage: false, log: recentLog });
  }
}

async function generate(message: GenerateMessage): Promise<void> {
  const state = loaded;
  if (state === undefined) {
    send({ type: "failed", id: message.id, message: "the model is not loaded" });
    return;
  }
  const chat = state.free.pop();
  if (chat === undefined) {
    // The engine sends at most one request per sequence, but an aborted request's sequence is
    // freed here only once its generation has stopped: wait for it.
    waiting.push(message);
    return;
  }
  const controller = new AbortController();
  running.set(message.id, controller);
  const meter = chat.sequence.tokenMeter;
  const before = { input: meter.usedInputTokens, output: meter.usedOutputTokens };
  try {
    const grammar = message.jsonSchema === undefined ? undefined : await grammarFor(state, message.jsonSchema);
    const { sampling } = message;
    const extra = sampling.extra ?? {};
    const result = await chat.generateResponse(history(message), {
      ...(grammar === undefined ? {} : { grammar }),
      ...(sampling.maxTokens === undefined ? {} : { maxTokens: sampling.maxTokens }),
      ...(sampling.temperature === undefined ? {} : { temperature: sampling.temperature }),
      ...(sampling.topP === undefined ? {} : { topP: sampling.topP }),
      ...(sampling.seed === undefined ? {} : { seed: sampling.seed }),
      ...(typeof extra.top_k === "number" ? { topK: extra.top_k } : {}),
      ...(typeof extra.min_p === "number" ? { minP: extra.min_p } : {}),
      ...(sampling.stop === undefined || sampling.stop.length === 0 ? {} : { customStopTriggers: sampling.stop }),
      signal: controller.signal,
    });
    // Usage as servers report it: the whole prompt, though the sequence evaluated only what
    // differed from its last request. The sequence now holds the prompt and the reply.
    const outputTokens = meter.usedOutputTokens - before.output;
    send({
      type: "result",
      id: message.id,
      text: result.response,
      finishReason: result.metadata.stopReason === "maxTokens" ? "length" : "stop",
      inputTokens: Math.max(meter.usedInputTokens - before.input, chat.sequence.contextTokens.length - outputTokens),
      outputTokens,
    });
  } catch (error) {
    send({ type: "failed", id: message.id, message: describe(error) });
  } finally {
    running.delete(message.id);
    state.free.push(chat);
    const next = waiting.shift();
    if (next !== undefined) void generate(next);
  }
}

function grammarFor(state: Loaded, jsonSchema: Record<string, unknown>): Promise<LlamaGrammar> {
  const key = JSON.stringify(jsonSchema);
  let grammar = state.grammars.get(key);
  if (grammar === undefined) {
    // node-llama-cpp's type is a narrow JSON-schema type; the schema is a zod-generated one, and
    // what it does not support is its error to report.
    grammar = state.llama.createGrammarForJsonSchema(jsonSchema as never).catch((error: unknown) => {
      state.grammars.delete(key);
      throw new Error(`node-llama-cpp cannot turn the step's JSON schema into a grammar: ${describe(error)}`);
    });
    state.grammars.set(key, grammar);
  }
  return grammar;
}

function history(message: GenerateMessage): ChatHistoryItem[] {
  const items: ChatHistoryItem[] = message.messages.map((entry) =>
    entry.role === "assistant" ? { type: "model", response: [entry.content] } : { type: entry.role, text: entry.content },
  );
  items.push({ type: "model", response: [] });
  return items;
}

function isMissingPackage(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return (code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") && describe(error).includes("node-llama-cpp");
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
