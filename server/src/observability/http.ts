// The operations port (plain HTTP, loopback by default, apart from gRPC):
//   GET /metrics  Prometheus text format
//   GET /healthz  200 while the process serves (liveness)
//   GET /readyz   200 when the database answers, every migration is applied
//                 and the gRPC port is bound; 503 with the failing checks otherwise
import { createServer, type Server } from "node:http";
import { listen, type Listening } from "../http-listen.js";
import type { Logger } from "../logger.js";
import type { Metrics } from "./metrics.js";

export interface Readiness {
  ready: boolean;
  checks: Record<string, { ok: boolean; detail?: string }>;
}

export type OpsServer = Listening;

export async function startOpsServer(options: {
  host: string;
  port: number;
  metrics: Metrics;
  readiness: () => Promise<Readiness>;
  /** Where errors' details go: the port is unauthenticated, so its answers never carry them. */
  log?: Logger;
}): Promise<OpsServer> {
  const server: Server = createServer((req, res) => {
    const url = (req.url ?? "/").split("?")[0];
    const send = (code: number, type: string, body: string) => {
      res.writeHead(code, { "content-type": type, "cache-control": "no-store" });
      res.end(req.method === "HEAD" ? undefined : body);
    };
    if (req.method !== "GET" && req.method !== "HEAD") return send(405, "text/plain", "method not allowed\n");
    if (url === "/healthz") return send(200, "application/json", JSON.stringify({ status: "ok" }) + "\n");
    if (url === "/readyz") {
      void options.readiness().then(
        (r) => send(r.ready ? 200 : 503, "application/json", JSON.stringify({ status: r.ready ? "ready" : "not ready", checks: r.checks }) + "\n"),
        (error: unknown) => {
          options.log?.warn({ err: error }, "readiness check failed");
          send(503, "application/json", JSON.stringify({ status: "not ready" }) + "\n");
        },
      );
      return;
    }
    if (url === "/metrics") {
      void options.metrics.text().then(
        (text) => send(200, options.metrics.registry.contentType, text),
        (error: unknown) => {
          options.log?.warn({ err: error }, "metrics could not be collected");
          send(500, "text/plain", "metrics could not be collected (the server's log says why)\n");
        },
      );
      return;
    }
    send(404, "text/plain", "not found: try /metrics, /healthz or /readyz\n");
  });
  server.keepAliveTimeout = 5000;
  return listen(server, options.host, options.port);
}
