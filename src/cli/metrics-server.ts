/** `run --metrics-port N`: the run's Prometheus metrics at http://127.0.0.1:N/metrics, nothing else. */
import { createServer } from "node:http";
import { ChainetteError } from "../errors.js";
import type { RunMetrics } from "../job/run-metrics.js";

export interface MetricsServer {
  readonly url: string;
  close(): Promise<void>;
}

export async function startMetricsServer(metrics: RunMetrics, port: number, host = "127.0.0.1"): Promise<MetricsServer> {
  const server = createServer((request, response) => {
    const path = new URL(request.url ?? "/", "http://metrics.invalid").pathname;
    if ((request.method !== "GET" && request.method !== "HEAD") || path !== "/metrics") {
      response.writeHead(404, { "content-type": "text/plain; charset=utf-8" });
      response.end("the metrics are at /metrics\n");
      return;
    }
    const body = metrics.render();
    response.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8", "cache-control": "no-store" });
    response.end(request.method === "HEAD" ? undefined : body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) =>
      reject(error.code === "EADDRINUSE" ? new ChainetteError("USAGE", `--metrics-port ${port} is in use on ${host}: pick another port`) : error),
    );
    server.listen(port, host, () => resolve());
  });
  server.unref();
  const address = server.address();
  const bound = typeof address === "object" && address !== null ? address.port : port;
  return {
    url: `http://${host}:${bound}/metrics`,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
