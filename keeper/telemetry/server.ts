/**
 * The telemetry HTTP server, on `node:http` alone: `GET /metrics` (Prometheus text), `GET /healthz` (liveness)
 * and `GET /readyz` (readiness). It binds to 127.0.0.1 unless told otherwise, serves nothing but those three,
 * and its answers hold only metrics and health reasons — no configuration, URL or error detail.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Health } from "./health.ts";
import type { KeeperMetrics } from "./metrics.ts";

export interface TelemetryServerOptions {
  /** TCP port; 0 picks a free one (see the returned `url`). */
  port: number;
  /** Interface to bind. Default 127.0.0.1: expose it wider only on purpose. */
  host?: string;
  metrics: KeeperMetrics;
  /** Evaluated on every probe, so the answer reflects the keeper's state at that moment. */
  health: () => Health;
}

export interface TelemetryServer {
  /** `http://host:port`, with the port actually bound. */
  url: string;
  /** Stops listening and closes open connections (including idle keep-alive ones). */
  close(): Promise<void>;
}

export function startTelemetryServer(options: TelemetryServerOptions): Promise<TelemetryServer> {
  const host = options.host ?? "127.0.0.1";
  const server = createServer((req, res) => {
    handle(options, req, res).catch(() => {
      // The error itself is not echoed: it could carry details not meant for an unauthenticated endpoint.
      if (!res.headersSent) send(res, 500, "text/plain; charset=utf-8", "internal error\n");
      else res.destroy();
    });
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, host, () => {
      server.off("error", reject);
      const { port } = server.address() as AddressInfo;
      const hostInUrl = host.includes(":") ? `[${host}]` : host;
      resolve({
        url: `http://${hostInUrl}:${port}`,
        close: () =>
          new Promise<void>((done, fail) => {
            server.close((error) => (error ? fail(error) : done()));
            server.closeAllConnections();
          }),
      });
    });
  });
}

async function handle(options: TelemetryServerOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  // Only the path is routed; a query string is ignored. The base is a placeholder, never the Host header.
  const path = new URL(req.url ?? "/", "http://localhost").pathname;
  if (path !== "/metrics" && path !== "/healthz" && path !== "/readyz") {
    send(res, 404, "text/plain; charset=utf-8", "not found\n");
    return;
  }
  // HEAD is GET without the body (Node drops it), as HTTP requires of any resource that supports GET.
  if (req.method !== "GET" && req.method !== "HEAD") {
    res.setHeader("Allow", "GET, HEAD");
    send(res, 405, "text/plain; charset=utf-8", "method not allowed\n");
    return;
  }
  if (path === "/metrics") {
    const text = await options.metrics.metrics();
    send(res, 200, options.metrics.contentType, text);
    return;
  }
  const health = options.health();
  const ok = path === "/healthz" ? health.live : health.ready;
  if (ok) {
    send(res, 200, "text/plain; charset=utf-8", "ok\n");
    return;
  }
  const body = { live: health.live, ready: health.ready, reasons: health.reasons };
  send(res, 503, "application/json; charset=utf-8", `${JSON.stringify(body)}\n`);
}

function send(res: ServerResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, {
    "Content-Type": contentType,
    "Content-Length": Buffer.byteLength(body),
    "Cache-Control": "no-store",
  });
  res.end(body);
}
