/**
 * The telemetry HTTP server, on `node:http` alone: `GET /metrics` (Prometheus text), `GET /healthz` (liveness)
 * and `GET /readyz` (readiness); with a status board, the status page too — `GET /` and `/status.js` (the page),
 * `/api/status` (every vault's summary), `/api/vault/<address>` (one vault's history) and `/api/events`
 * (server-sent events, one per block). It binds to 127.0.0.1 unless told otherwise, is read-only (GET and HEAD
 * only), and its answers hold only metrics, health reasons and the board's numbers — no configuration beyond the
 * policy, no URL, key or error detail.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Health } from "./health.ts";
import type { KeeperMetrics } from "./metrics.ts";
import type { StatusBoard } from "./status.ts";
import { STATUS_PAGE_HTML, STATUS_PAGE_JS } from "./statusPage.ts";

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;
const LOOPBACK_HOST = /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?$/i;

/** Open event streams at most: each holds a socket and a listener; a page beyond this is told to retry later. */
export const MAX_EVENT_STREAMS = 32;
/** A comment line on idle event streams this often, so proxies and browsers keep them open. */
const HEARTBEAT_MS = 15_000;
/** The page's policy: its own script and connections only; inline styles (no inline script). */
const PAGE_CSP = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export interface TelemetryServerOptions {
  /** TCP port; 0 picks a free one (see the returned `url`). */
  port: number;
  /** Interface to bind. Default 127.0.0.1: expose it wider only on purpose. */
  host?: string;
  metrics: KeeperMetrics;
  /** Evaluated on every probe, so the answer reflects the keeper's state at that moment. */
  health: () => Health;
  /** The status page's data; without it `/` and `/api/…` are 404. */
  status?: StatusBoard;
}

export interface TelemetryServer {
  /** `http://host:port`, with the port actually bound. */
  url: string;
  /** Stops listening and closes open connections (including idle keep-alive ones). */
  close(): Promise<void>;
}

export function startTelemetryServer(options: TelemetryServerOptions): Promise<TelemetryServer> {
  const host = options.host ?? "127.0.0.1";
  const streams = { open: 0 };
  const server = createServer((req, res) => {
    handle(options, streams, req, res).catch(() => {
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

async function handle(options: TelemetryServerOptions, streams: { open: number }, req: IncomingMessage, res: ServerResponse): Promise<void> {
  // Only the path is routed; a query string is ignored. The base is a placeholder, never the Host header.
  const path = new URL(req.url ?? "/", "http://localhost").pathname;
  const board = options.status;
  const isPage = board !== undefined && (path === "/" || path === "/status.js" || path === "/api/status" || path === "/api/events" || path.startsWith("/api/vault/"));
  if (path !== "/metrics" && path !== "/healthz" && path !== "/readyz" && !isPage) {
    send(res, 404, "text/plain; charset=utf-8", "not found\n");
    return;
  }
  // HEAD is GET without the body (Node drops it), as HTTP requires of any resource that supports GET.
  if (req.method !== "GET" && req.method !== "HEAD") {
    res.setHeader("Allow", "GET, HEAD");
    send(res, 405, "text/plain; charset=utf-8", "method not allowed\n");
    return;
  }
  if (isPage) {
    // DNS rebinding: a web page elsewhere can point its own name at 127.0.0.1 and read this page as same-origin.
    // On a loopback bind, only loopback names are served (the Host header is what such a page cannot fake).
    if (LOOPBACK.test(options.host ?? "127.0.0.1") && !LOOPBACK_HOST.test(req.headers.host ?? "")) {
      send(res, 421, "text/plain; charset=utf-8", "the status page answers to 127.0.0.1, localhost or [::1] only\n");
      return;
    }
    servePage(board, streams, path, req, res);
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

function servePage(board: StatusBoard, streams: { open: number }, path: string, req: IncomingMessage, res: ServerResponse): void {
  const headers = { "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer" };
  if (path === "/") {
    send(res, 200, "text/html; charset=utf-8", STATUS_PAGE_HTML, { ...headers, "Content-Security-Policy": PAGE_CSP, "X-Frame-Options": "DENY" });
  } else if (path === "/status.js") {
    send(res, 200, "text/javascript; charset=utf-8", STATUS_PAGE_JS, headers);
  } else if (path === "/api/status") {
    send(res, 200, "application/json; charset=utf-8", JSON.stringify(board.status()), headers);
  } else if (path.startsWith("/api/vault/")) {
    const vault = path.slice("/api/vault/".length);
    const detail = /^0x[0-9a-fA-F]{40}$/.test(vault) ? board.detail(vault) : undefined;
    if (detail === undefined) send(res, 404, "application/json; charset=utf-8", `${JSON.stringify({ error: "no such vault on this keeper" })}\n`, headers);
    else send(res, 200, "application/json; charset=utf-8", JSON.stringify(detail), headers);
  } else if (req.method === "HEAD") {
    send(res, 200, "text/event-stream", "", headers);
  } else if (streams.open >= MAX_EVENT_STREAMS) {
    res.setHeader("Retry-After", "30");
    send(res, 503, "text/plain; charset=utf-8", `too many open status pages (max ${MAX_EVENT_STREAMS})\n`, headers);
  } else {
    streams.open++;
    res.writeHead(200, { ...headers, "Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-store", Connection: "keep-alive" });
    res.write("retry: 2000\n\n");
    const unsubscribe = board.subscribe((update) => res.write(eventText(update)));
    const heartbeat = setInterval(() => res.write(": heartbeat\n\n"), HEARTBEAT_MS);
    heartbeat.unref();
    res.on("close", () => {
      streams.open--;
      clearInterval(heartbeat);
      unsubscribe();
    });
  }
}

/** One block's event as the stream carries it, serialised once however many pages are open. */
const eventTexts = new WeakMap<object, string>();
function eventText(update: object): string {
  let text = eventTexts.get(update);
  if (text === undefined) {
    text = `event: block\ndata: ${JSON.stringify(update)}\n\n`;
    eventTexts.set(update, text);
  }
  return text;
}

function send(res: ServerResponse, status: number, contentType: string, body: string, extra: Record<string, string> = {}): void {
  res.writeHead(status, {
    ...extra,
    "Content-Type": contentType,
    "Content-Length": Buffer.byteLength(body),
    "Cache-Control": "no-store",
  });
  res.end(body);
}
