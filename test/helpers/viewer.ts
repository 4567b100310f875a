/** The viewer (`chainette-stream view DIR --port 0`) as a child process, and its JSON API. */
import { request } from "node:http";
import { startCli } from "./cli.js";
import { waitFor } from "./wait-for.js";

export interface ViewerProcess {
  url: string;
  get<T = unknown>(path: string): Promise<T>;
  stop(): Promise<void>;
}

export async function startViewer(dir: string): Promise<ViewerProcess> {
  const { child, done } = startCli(["view", dir, "--port", "0"]);
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  let exited = false;
  void done.then(() => (exited = true));
  await waitFor(() => exited || /on (http:\/\/\S+?)\/ /.test(output), "the viewer's URL");
  const url = /on (http:\/\/\S+?)\/ /.exec(output)?.[1];
  if (url === undefined) throw new Error(`the viewer did not start: ${(await done).stderr}`);
  return {
    url,
    get: async <T>(path: string): Promise<T> => {
      const answer = await fetchRaw(`${url}${path}`);
      if (answer.status !== 200) throw new Error(`${path}: ${answer.status} ${answer.body}`);
      return JSON.parse(answer.body) as T;
    },
    stop: async () => {
      child.kill("SIGINT");
      await done;
    },
  };
}

/** A GET with nothing changed on the way (fetch would normalise `..` and set its own Host). */
export function fetchRaw(url: string, options: { method?: string; headers?: Record<string, string> } = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const parsed = new URL(url);
  const path = url.slice(parsed.origin.length) || "/";
  return new Promise((resolve, reject) => {
    const req = request({ host: parsed.hostname, port: parsed.port, path, method: options.method ?? "GET", headers: options.headers ?? {} }, (response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => (body += chunk));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }));
    });
    req.on("error", reject);
    req.end();
  });
}
