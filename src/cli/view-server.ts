/**
 * The viewer's HTTP server: the page's own three files, a read-only JSON API over `RunView`, and
 * server-sent events that push a run's state at most once a second (only when it changed). It
 * serves nothing else: files come from a fixed list (no path ever reaches the file system), every
 * method but GET/HEAD is refused, a request for another host name is refused (DNS rebinding), and
 * every answer carries a strict Content-Security-Policy.
 */
import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { findRuns, RunView, runName, type RunSnapshot } from "../job/run-view.js";

/** The page's files, the only ones served, and where they are in the package. */
const PAGE_FILES: Readonly<Record<string, { file: string; type: string }>> = {
  "/": { file: "index.html", type: "text/html; charset=utf-8" },
  "/viewer.js": { file: "viewer.js", type: "text/javascript; charset=utf-8" },
  "/viewer.css": { file: "viewer.css", type: "text/css; charset=utf-8" },
};
const PAGE_FOLDER = new URL("../../viewer/", import.meta.url);

export const CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const SECURITY_HEADERS = {
  "content-security-policy": CONTENT_SECURITY_POLICY,
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
  "cache-control": "no-store",
};

/** Server-sent events: a state is pushed at most this often. */
export const PUSH_INTERVAL_MS = 1000;
const MAX_PAGE = 500;

export interface ViewServerOptions {
  /** OUTDIR: one run, or a folder whose sub-folders are runs (a sharded run). */
  root: string;
  host: string;
  port: number;
}

export interface ViewServer {
  readonly url: string;
  close(): Promise<void>;
}

export async function startViewServer(options: ViewServerOptions): Promise<ViewServer> {
  const page = new Map(Object.entries(PAGE_FILES).map(([path, { file, type }]) => [path, { body: readFileSync(new URL(file, PAGE_FOLDER)), type }]));
  const streams = new Set<ServerResponse>();
  const timers = new Set<NodeJS.Timeout>();
  let allowedHosts = new Set<string>();
  const server: Server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (!response.headersSent) sendJson(response, 500, { error: (error as Error).message });
      else response.destroy();
    });
  });

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    if (!allowedHosts.has((request.headers.host ?? "").toLowerCase())) return sendJson(response, 421, { error: "unknown host name" });
    if (request.method !== "GET" && request.method !== "HEAD") {
      response.setHeader("allow", "GET, HEAD");
      return sendJson(response, 405, { error: "the viewer is read-only" });
    }
    const url = new URL(request.url ?? "/", "http://viewer.invalid");
    const file = page.get(url.pathname);
    if (file !== undefined) {
      response.writeHead(200, { ...SECURITY_HEADERS, "content-type": file.type, "content-length": file.body.length });
      response.end(request.method === "HEAD" ? undefined : file.body);
      return;
    }
    if (!url.pathname.startsWith("/api/")) return sendJson(response, 404, { error: "not found" });
    const query = url.searchParams;
    const runs = findRuns(options.root);
    if (url.pathname === "/api/runs") {
      const listed = runs.map((run, id) => ({ id, name: runName(options.root, run), ...briefState(new RunView(run)) }));
      const total = listed.some((run) => run.total === null) ? null : listed.reduce((sum, run) => sum + (run.total ?? 0), 0);
      const totals = { done: listed.reduce((sum, run) => sum + run.done, 0), total };
      return sendJson(response, 200, { root: options.root, runs: listed, totals });
    }
    const runId = integer(query.get("run"), 0);
    const run = runs[runId];
    if (run === undefined) return sendJson(response, 404, { error: `no run ${runId} in ${options.root}` });
    const view = new RunView(run);
    const limit = Math.min(MAX_PAGE, Math.max(1, integer(query.get("limit"), 50)));
    switch (url.pathname) {
      case "/api/state":
        return sendJson(response, 200, view.snapshot());
      case "/api/rollups":
        return sendJson(response, 200, { bucket_ms: 10_000, points: view.rollups(integer(query.get("since"), 0)) });
      case "/api/errors":
        return sendJson(response, 200, { groups: view.errorGroups() });
      case "/api/failures":
        return sendJson(response, 200, view.failures({ node: query.get("node") ?? "", type: query.get("type") ?? "" }, query.get("after") ?? undefined, limit));
      case "/api/rows": {
        const folder = query.get("folder") ?? "flattened";
        if (!view.snapshot().folders.includes(folder)) return sendJson(response, 404, { error: `the run has no folder \`${folder}\`` });
        return sendJson(response, 200, await view.rows(folder, { after: query.get("after") ?? undefined, before: query.get("before") ?? undefined }, limit));
      }
      case "/api/row": {
        const folder = query.get("folder");
        const cursor = query.get("cursor");
        let rowId = query.get("id");
        let line: string | undefined;
        if (folder !== null && cursor !== null) {
          if (!view.snapshot().folders.includes(folder)) return sendJson(response, 404, { error: `the run has no folder \`${folder}\`` });
          line = await view.line(folder, cursor);
          if (line === undefined) return sendJson(response, 404, { error: `no line at ${cursor} in ${folder}` });
          rowId ??= /^\{"row_id":"([\d.]+)"/.exec(line)?.[1] ?? null;
        }
        if (rowId === null || !/^\d{1,15}(\.\d{1,9}){0,32}$/.test(rowId)) return sendJson(response, 400, { error: "give id=ROW_ID, or folder= and cursor=" });
        return sendJson(response, 200, await view.row(rowId));
      }
      case "/api/events":
        return stream(response, view);
      default:
        return sendJson(response, 404, { error: "not found" });
    }
  }

  function stream(response: ServerResponse, view: RunView): void {
    response.writeHead(200, { ...SECURITY_HEADERS, "content-type": "text/event-stream; charset=utf-8", connection: "keep-alive" });
    response.write("retry: 2000\n\n");
    streams.add(response);
    let last = "";
    let quiet = 0;
    const push = (): void => {
      let snapshot: RunSnapshot;
      try {
        snapshot = view.snapshot();
      } catch (error) {
        response.write(`event: problem\ndata: ${JSON.stringify({ error: (error as Error).message })}\n\n`);
        return;
      }
      const data = JSON.stringify(snapshot);
      if (data !== last) {
        last = data;
        quiet = 0;
        response.write(`event: state\ndata: ${data}\n\n`);
      } else if (++quiet % 15 === 0) {
        response.write(": still here\n\n");
      }
    };
    push();
    const timer = setInterval(push, PUSH_INTERVAL_MS);
    timers.add(timer);
    response.on("close", () => {
      clearInterval(timer);
      timers.delete(timer);
      streams.delete(response);
    });
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : options.port;
  const hostPart = options.host.includes(":") ? `[${options.host}]` : options.host;
  allowedHosts = new Set([`${hostPart}:${port}`, `localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`].map((host) => host.toLowerCase()));
  return {
    url: `http://${hostPart}:${port}`,
    close: async () => {
      for (const timer of timers) clearInterval(timer);
      for (const response of streams) response.end();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function briefState(view: RunView): { state: string; why: string | null; done: number; total: number | null } {
  try {
    const snapshot = view.snapshot();
    return { state: snapshot.state, why: snapshot.why, done: snapshot.tiles.done, total: snapshot.tiles.total };
  } catch (error) {
    return { state: "unreadable", why: (error as Error).message, done: 0, total: null };
  }
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { ...SECURITY_HEADERS, "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text) });
  response.end(text);
}

function integer(text: string | null, fallback: number): number {
  const value = Number(text ?? "");
  return text !== null && Number.isSafeInteger(value) && value >= 0 ? value : fallback;
}
