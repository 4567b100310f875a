/**
 * `startSimulator()`: a plain `node:http` server (keep-alive on) with vLLM's OpenAI-compatible
 * routes, its health, models and metrics pages, and Ollama's `/api/chat` and `/api/tags`.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { handleChat, sendJson } from "./completion-handler.js";
import { handleTokenize } from "./tokenize-handler.js";
import type { FaultOptions } from "./faults.js";
import { ollamaProtocol } from "./ollama-protocol.js";
import { openAiProtocol } from "./openai-protocol.js";
import { resolveOptions, type ResolvedOptions, type SimulatorOptions } from "./options.js";
import type { Protocol } from "./protocol.js";
import { SimulatorState, type SimulatorStats } from "./simulator-state.js";

/** A running simulator. */
export interface Simulator {
  /** Base URL without `/v1`, e.g. `http://127.0.0.1:41234`. OpenAI clients want `${url}/v1`. */
  readonly url: string;
  readonly port: number;
  /** The options in force, defaults and profile applied. */
  readonly options: ResolvedOptions;
  /** Replaces the fault injection; schedules and slow start count from this call. */
  setFaults(faults: FaultOptions): void;
  /** Counters: requests by route, completed, faults by kind, running/waiting/hanging now. */
  stats(): SimulatorStats;
  /** Stops listening and destroys every open connection (hanging ones included). */
  close(): Promise<void>;
}

/** The version `/version` reports: the vLLM release whose behaviour the simulator follows. */
export const SIMULATED_VLLM_VERSION = "0.12.0";

function readBody(request: IncomingMessage, callback: (body: string) => void): void {
  const chunks: Buffer[] = [];
  request.on("data", (chunk: Buffer) => chunks.push(chunk));
  request.on("end", () => callback(Buffer.concat(chunks).toString("utf8")));
}

function route(state: SimulatorState, request: IncomingMessage, response: ServerResponse): void {
  const path = (request.url ?? "/").split("?")[0] ?? "/";
  const planner = state.planner;
  const chatProtocol: Protocol | undefined = path === openAiProtocol.route ? openAiProtocol : path === ollamaProtocol.route ? ollamaProtocol : undefined;
  state.countRequest(chatProtocol !== undefined || ["/health", "/v1/models", "/metrics", "/api/tags", "/version", "/tokenize"].includes(path) ? path : "other");
  if (chatProtocol !== undefined) {
    if (request.method !== "POST") return sendJson(response, 405, JSON.stringify({ detail: "Method Not Allowed" }));
    return readBody(request, (body) => handleChat(state, chatProtocol, request, response, body));
  }
  if (path === "/tokenize") {
    if (request.method !== "POST") return sendJson(response, 405, JSON.stringify({ detail: "Method Not Allowed" }));
    return readBody(request, (body) => handleTokenize(state, response, body));
  }
  request.resume();
  const { model, maxModelLen } = state.options;
  switch (path) {
    case "/health": {
      const down = planner.starting() || planner.dead();
      response.writeHead(down ? 503 : 200, { "content-length": 0 });
      return void response.end();
    }
    case "/metrics": {
      const cache = state.scheduler.prefixCache;
      const body = state.metrics.render({
        running: state.scheduler.running,
        waiting: state.scheduler.waiting,
        kvCacheUsage: Math.min(1, state.scheduler.kvTokensInUse() / state.options.kvCacheTokens),
        ...(cache === undefined ? {} : { prefixCache: { queriedTokens: cache.queriedTokens, hitTokens: cache.hitTokens } }),
      });
      response.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8", "content-length": Buffer.byteLength(body) });
      return void response.end(body);
    }
    case "/version":
      return sendJson(response, 200, JSON.stringify({ version: SIMULATED_VLLM_VERSION }));
  }
  if (planner.starting()) return sendJson(response, 503, openAiProtocol.errorBody(503, "The server is starting up"));
  if (planner.dead()) return sendJson(response, 500, openAiProtocol.errorBody(500, "EngineCore encountered an issue."));
  const created = Math.floor(Date.now() / 1000);
  switch (path) {
    case "/v1/models":
      return sendJson(response, 200, JSON.stringify({
        object: "list",
        data: [{ id: model, object: "model", created, owned_by: "vllm", root: model, parent: null, max_model_len: maxModelLen, permission: [] }],
      }));
    case "/api/tags":
      return sendJson(response, 200, JSON.stringify({
        models: [{
          name: model, model, modified_at: new Date(created * 1000).toISOString(), size: 4_920_753_328, digest: "0".repeat(64),
          details: { parent_model: "", format: "gguf", family: "llama", families: ["llama"], parameter_size: "8.0B", quantization_level: "Q4_K_M" },
        }],
      }));
    default:
      return sendJson(response, 404, JSON.stringify({ detail: "Not Found" }));
  }
}

/** Starts a simulator; resolves once it listens. */
export async function startSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const resolved = resolveOptions(options);
  const state = new SimulatorState(resolved);
  const sockets = new Set<Socket>();
  const server = createServer({ keepAlive: true, requestTimeout: 0 }, (request, response) => route(state, request, response));
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(resolved.port, resolved.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : resolved.port;
  const host = resolved.host.includes(":") ? `[${resolved.host}]` : resolved.host;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${host}:${port}`,
    port,
    options: resolved,
    setFaults: (faults) => state.setFaults(faults),
    stats: () => state.stats(),
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        state.scheduler.close();
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
      return closing;
    },
  };
}
