/**
 * A tiny real HTTP server on loopback port 0 for engine tests: it records every request (method,
 * path, headers, parsed body) and answers with whatever the test's handler says, including
 * "reset the connection", "answer late" and "answer slowly". GET requests are health probes: recorded apart and
 * answered by `options.probe` (200 by default). It can stop and start again on the same port, to
 * play an endpoint that goes down and comes back.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingMessage["headers"];
  body: unknown;
}

export type Answer =
  | {
      status?: number;
      json?: unknown;
      text?: string;
      headers?: Record<string, string>;
      delayMs?: number;
      /** Send the headers at once, then the body in `chunks` pieces `everyMs` apart. */
      trickle?: { chunks: number; everyMs: number };
    }
  | "reset";

export type Handler = (request: RecordedRequest, index: number) => Answer | Promise<Answer>;

export interface TestServer {
  /** `http://127.0.0.1:PORT` (no `/v1`). */
  url: string;
  port: number;
  /** POST requests, in arrival order (the handler's `index`). */
  requests: RecordedRequest[];
  /** GET requests (health probes). */
  probes: RecordedRequest[];
  /** Requests being answered right now, and the most at once so far. */
  inFlight: number;
  maxInFlight: number;
  stop(): Promise<void>;
  start(): Promise<void>;
}

export interface TestServerOptions {
  /** @default 0 */
  port?: number;
  /** Answer to GET requests. @default () => ({ json: { data: [] } }) */
  probe?: () => Answer;
}

export function chatCompletion(content: string, extra: Record<string, unknown> = {}): Exclude<Answer, "reset"> {
  return {
    json: {
      id: "chatcmpl-test",
      object: "chat.completion",
      choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: "stop" }],
      usage: { prompt_tokens: 11, completion_tokens: 7, total_tokens: 18 },
      ...extra,
    },
  };
}

export async function startTestServer(handler: Handler, options: TestServerOptions = {}): Promise<TestServer> {
  let server: Server | undefined;
  const sockets = new Set<Socket>();
  const state: TestServer = {
    url: "",
    port: options.port ?? 0,
    requests: [],
    probes: [],
    inFlight: 0,
    maxInFlight: 0,
    async stop() {
      const current = server;
      server = undefined;
      if (current === undefined) return;
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => current.close(() => resolve()));
    },
    async start() {
      const created = createServer((request, response) => void answer(request, response));
      created.on("connection", (socket: Socket) => {
        sockets.add(socket);
        socket.on("close", () => sockets.delete(socket));
      });
      await new Promise<void>((resolve) => created.listen(state.port, "127.0.0.1", resolve));
      state.port = (created.address() as AddressInfo).port;
      state.url = `http://127.0.0.1:${state.port}`;
      server = created;
    },
  };

  async function answer(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString("utf8");
    const recorded: RecordedRequest = {
      method: request.method ?? "",
      path: request.url ?? "",
      headers: request.headers,
      body: raw === "" ? undefined : (JSON.parse(raw) as unknown),
    };
    if (recorded.method === "GET") {
      state.probes.push(recorded);
      const probeReply = options.probe?.() ?? { json: { data: [] } };
      if (probeReply === "reset") request.socket.destroy();
      else response.writeHead(probeReply.status ?? 200, { "content-type": "application/json" }).end(JSON.stringify(probeReply.json ?? {}));
      return;
    }
    const index = state.requests.push(recorded) - 1;
    state.inFlight += 1;
    state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
    try {
      const reply = await handler(recorded, index);
      if (reply === "reset") {
        request.socket.destroy();
        return;
      }
      if (reply.delayMs !== undefined) await new Promise((resolve) => setTimeout(resolve, reply.delayMs));
      if (response.destroyed) return;
      const text = reply.text ?? (reply.json === undefined ? "" : JSON.stringify(reply.json));
      response.writeHead(reply.status ?? 200, { "content-type": "application/json", ...reply.headers });
      if (reply.trickle !== undefined) {
        const size = Math.ceil(text.length / reply.trickle.chunks);
        response.flushHeaders();
        for (let at = 0; at < text.length && !response.destroyed; at += size) {
          response.write(text.slice(at, at + size));
          await new Promise((resolve) => setTimeout(resolve, reply.trickle?.everyMs));
        }
      }
      if (!response.destroyed) response.end(reply.trickle === undefined ? text : undefined);
    } finally {
      state.inFlight -= 1;
    }
  }

  await state.start();
  return state;
}
