/**
 * A fault-injecting JSON-RPC proxy for tests: forwards POSTed JSON-RPC (single or batch) to a loopback node and
 * relays the answer, except when the plan injects a fault into that request:
 *
 * | fault       | what the client sees                                   | reaches the node? |
 * | ----------- | ------------------------------------------------------ | ----------------- |
 * | `drop`      | the socket closed without an answer                    | no                |
 * | `http5xx`   | HTTP 502 with a plain-text body                        | no                |
 * | `malformed` | HTTP 200 with truncated JSON or an HTML page           | yes (answer lost) |
 * | `delay`     | the real answer, `ms` later (combines with the others) | yes               |
 * | `blackhole` | nothing, ever (until `close()`): a time-out            | no                |
 * | `down`      | HTTP 503 to everything                                 | no                |
 *
 * Probabilistic faults draw from a seeded PRNG (mulberry32), two draws per eligible request whatever happens,
 * so one seed gives one fault sequence. A plan without a seed gets a random one, printed, and returned by
 * `seed()`. `methods` restricts the faults (not `blackhole`/`down`) to requests naming one of them.
 *
 * Bounded: request and response bodies are capped, held (blackholed) requests are capped, an upstream that does
 * not answer in `upstreamTimeoutMs` gets a 504, and `close()` destroys every socket and timer. The target must be
 * a loopback address.
 */
import { createServer, request as httpRequest, type ClientRequest, type IncomingMessage, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { mulberry32 } from "./random.ts";

export interface FaultPlan {
  /** Probability of closing the socket without answering. */
  drop?: number;
  /** Probability of holding the request `ms` before forwarding it. */
  delay?: { p: number; ms: number };
  /** Probability of answering HTTP 502. */
  http5xx?: number;
  /** Probability of answering HTTP 200 with a body that is not JSON (or JSON cut short). */
  malformed?: number;
  /** Only requests with one of these methods (any, in a batch) are eligible for the faults above. */
  methods?: string[];
  /** PRNG seed (32-bit). Random, and printed, when omitted. */
  seed?: number;
  /** Accept every request and never answer, until `close()` or a new plan without it. */
  blackhole?: boolean;
  /** Answer every request HTTP 503. */
  down?: boolean;
}

export type FaultKind = "drop" | "delay" | "http5xx" | "malformed" | "blackhole" | "down";

export interface FaultProxyStats {
  /** JSON-RPC requests received (a batch counts once per call in it). */
  requests: number;
  /** Requests received per JSON-RPC method. */
  methods: Record<string, number>;
  /** Faults injected, per kind. */
  injected: Record<string, number>;
}

export interface FaultProxy {
  /** `http://127.0.0.1:<port>`; any path is accepted and ignored. */
  url: string;
  /** The seed of the current plan. */
  seed(): number;
  /** Replaces the plan (and re-seeds the PRNG). Requests held by an old `blackhole` are released to the node. */
  setFaults(plan: FaultPlan): void;
  stats(): FaultProxyStats;
  /** Clears the counters. */
  resetStats(): void;
  close(): Promise<void>;
}

export interface FaultProxyOptions {
  /** The node, e.g. `http://127.0.0.1:8545`: loopback only. */
  target: string;
  /** 0 (default): any free port. */
  port?: number;
  faults?: FaultPlan;
  /** Largest request body accepted (413 beyond), bytes. Default 1 MiB. */
  maxRequestBytes?: number;
  /** Largest upstream answer relayed (502 beyond), bytes. Default 16 MiB. */
  maxResponseBytes?: number;
  /** Most requests held at once by `blackhole`; beyond, sockets are closed. Default 256. */
  maxHeld?: number;
  /** Time-out of the forwarded request, ms. Default 30,000. */
  upstreamTimeoutMs?: number;
  /** Where the generated seed is printed. Default `console.info`. */
  log?: (line: string) => void;
}

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]", "::1"]);

export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const target = new URL(options.target);
  if (target.protocol !== "http:" || !LOOPBACK.has(target.hostname)) {
    throw new Error(`fault proxy: the target must be http on a loopback address, got ${target.protocol}//${target.host}`);
  }
  const maxRequestBytes = options.maxRequestBytes ?? 1 << 20;
  const maxResponseBytes = options.maxResponseBytes ?? 16 << 20;
  const maxHeld = options.maxHeld ?? 256;
  const upstreamTimeoutMs = options.upstreamTimeoutMs ?? 30_000;
  const log = options.log ?? ((line: string) => console.info(line));

  let plan: FaultPlan = {};
  let seed = 0;
  let random: () => number = () => 0;
  let closed = false;
  const sockets = new Set<Socket>();
  const held = new Map<ServerResponse, () => void>();
  const timers = new Set<NodeJS.Timeout>();
  const upstream = new Set<ClientRequest>();
  const stats = { requests: 0, methods: new Map<string, number>(), injected: new Map<string, number>() };
  const inject = (kind: FaultKind) => stats.injected.set(kind, (stats.injected.get(kind) ?? 0) + 1);

  const server = createServer((req, res) => void handle(req, res));
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });

  const setFaults = (next: FaultPlan) => {
    plan = { ...next, methods: next.methods ? [...next.methods] : undefined };
    const probabilistic = !!(next.drop || next.http5xx || next.malformed || next.delay?.p);
    seed = next.seed === undefined ? (Math.random() * 2 ** 32) >>> 0 : next.seed >>> 0;
    random = mulberry32(seed);
    if (next.seed === undefined && probabilistic) log(`fault proxy ${url}: seed ${seed}`);
    if (!next.blackhole) {
      // Held requests go on to the node: a blackhole that lifts behaves like a very long delay.
      const release = [...held.values()];
      held.clear();
      for (const forward of release) forward();
    }
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== "POST") {
      res.writeHead(405, { "content-type": "text/plain", allow: "POST" }).end("fault proxy: POST JSON-RPC only");
      return;
    }
    const body = await readBody(req, maxRequestBytes, "drain").catch(() => undefined);
    if (body === undefined) {
      if (!res.headersSent) res.writeHead(413, { "content-type": "text/plain", connection: "close" }).end("fault proxy: body too large");
      return;
    }
    const methods = methodsOf(body);
    stats.requests += Math.max(methods.length, 1);
    for (const m of methods) stats.methods.set(m, (stats.methods.get(m) ?? 0) + 1);

    if (plan.down) {
      inject("down");
      res.writeHead(503, { "content-type": "text/plain" }).end("fault proxy: down");
      return;
    }
    if (plan.blackhole) {
      inject("blackhole");
      if (held.size >= maxHeld) {
        req.socket.destroy();
        return;
      }
      held.set(res, () => forward(body, res));
      res.on("close", () => held.delete(res));
      return;
    }

    const eligible = !plan.methods || methods.some((m) => plan.methods!.includes(m));
    if (!eligible) {
      forward(body, res);
      return;
    }
    // Always two draws per eligible request, so the sequence depends on the seed alone.
    const pick = random();
    const delayDraw = random();
    const pDrop = plan.drop ?? 0;
    const p5xx = plan.http5xx ?? 0;
    const pMalformed = plan.malformed ?? 0;
    const fault: FaultKind | undefined =
      pick < pDrop ? "drop" : pick < pDrop + p5xx ? "http5xx" : pick < pDrop + p5xx + pMalformed ? "malformed" : undefined;
    const delayMs = plan.delay && delayDraw < plan.delay.p ? plan.delay.ms : 0;

    const act = () => {
      if (closed) return;
      if (fault === "drop") {
        inject("drop");
        req.socket.destroy();
      } else if (fault === "http5xx") {
        inject("http5xx");
        res.writeHead(502, { "content-type": "text/plain" }).end("fault proxy: injected 502 Bad Gateway");
      } else if (fault === "malformed") {
        inject("malformed");
        forward(body, res, (answer) => {
          // The node answered (and acted on it); the client gets garbage. Truncated JSON or an HTML error page,
          // alternating by the pick so both shapes show up.
          const truncated = pick - pDrop - p5xx < pMalformed / 2;
          return truncated
            ? { contentType: "application/json", body: answer.subarray(0, Math.max(1, Math.floor(answer.length / 2))) }
            : { contentType: "text/html", body: Buffer.from("<html><body>502 upstream hiccup</body></html>") };
        });
      } else {
        forward(body, res);
      }
    };
    if (delayMs > 0) {
      inject("delay");
      const timer = setTimeout(() => {
        timers.delete(timer);
        act();
      }, delayMs);
      timers.add(timer);
    } else {
      act();
    }
  }

  /** Sends `body` to the target and relays its answer (or `rewrite` of it). */
  function forward(
    body: Buffer,
    res: ServerResponse,
    rewrite?: (answer: Buffer) => { contentType: string; body: Buffer },
  ): void {
    if (closed || res.destroyed) return;
    const up = httpRequest(
      {
        host: target.hostname === "localhost" ? "127.0.0.1" : target.hostname.replace(/^\[|\]$/g, ""),
        port: target.port || 80,
        path: target.pathname + target.search,
        method: "POST",
        headers: { "content-type": "application/json", "content-length": body.length },
        timeout: upstreamTimeoutMs,
      },
      (answer) => {
        readBody(answer, maxResponseBytes).then(
          (data) => {
            upstream.delete(up);
            if (res.destroyed) return;
            const out = rewrite
              ? rewrite(data)
              : { contentType: answer.headers["content-type"] ?? "application/json", body: data };
            res.writeHead(rewrite ? 200 : (answer.statusCode ?? 502), { "content-type": out.contentType }).end(out.body);
          },
          () => {
            upstream.delete(up);
            fail(res, 502, "fault proxy: upstream answer too large or cut");
          },
        );
      },
    );
    upstream.add(up);
    up.on("timeout", () => up.destroy(new Error("upstream time-out")));
    up.on("error", (error) => {
      upstream.delete(up);
      fail(res, error.message === "upstream time-out" ? 504 : 502, "fault proxy: upstream unreachable");
    });
    up.end(body);
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("fault proxy: no TCP address");
  const url = `http://127.0.0.1:${address.port}`;
  setFaults(options.faults ?? {});

  return {
    url,
    seed: () => seed,
    setFaults,
    stats: () => ({
      requests: stats.requests,
      methods: Object.fromEntries(stats.methods),
      injected: Object.fromEntries(stats.injected),
    }),
    resetStats: () => {
      stats.requests = 0;
      stats.methods.clear();
      stats.injected.clear();
    },
    close: async () => {
      if (closed) return;
      closed = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      held.clear();
      for (const up of upstream) up.destroy();
      upstream.clear();
      const done = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await done;
    },
  };
}

function fail(res: ServerResponse, status: number, text: string): void {
  if (res.destroyed) return;
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, { "content-type": "text/plain" }).end(text);
}

/**
 * Reads a stream into one buffer, rejecting past `limit` bytes. The rest is then drained unread (a request, so its
 * client still gets the 413) or the stream destroyed (an upstream answer).
 */
function readBody(stream: IncomingMessage, limit: number, onOverflow: "drain" | "destroy" = "destroy"): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) {
        chunks.push(chunk);
        return;
      }
      chunks.length = 0;
      stream.off("data", onData);
      if (onOverflow === "destroy") stream.destroy();
      else stream.resume();
      reject(new Error(`body over ${limit} bytes`));
    };
    stream.on("data", onData);
    stream.on("end", () => resolve(Buffer.concat(chunks)));
    stream.on("error", reject);
  });
}

/** The JSON-RPC methods named in a body (one, or one per call of a batch); [] when it is not JSON-RPC. */
function methodsOf(body: Buffer): string[] {
  try {
    const parsed: unknown = JSON.parse(body.toString("utf8"));
    const calls = Array.isArray(parsed) ? parsed : [parsed];
    return calls.flatMap((c) =>
      typeof c === "object" && c !== null && typeof (c as { method?: unknown }).method === "string" ? [(c as { method: string }).method] : [],
    );
  } catch {
    return [];
  }
}

