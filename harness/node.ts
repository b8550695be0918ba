/**
 * Local nodes, one way to start them: an in-process Hardhat node served over JSON-RPC on a port the OS picks (the
 * demo, the soak, the bench, the simulator's fork mode, the process and fault tests), or an external anvil process
 * (where a node must be a process of its own, as the deploy script meets one). Both give a URL to hand to a
 * client or a keeper, and a `close` that never hangs a suite.
 */
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import type { NetworkConfigOverride } from "hardhat/types/config";
import type { NetworkConnection } from "hardhat/types/network";

const ANVIL = fileURLToPath(new URL("../node_modules/.bin/anvil", import.meta.url));
/** How long `close` waits: a Hardhat server's close waits for kept-alive client connections. */
const CLOSE_TIMEOUT_MS = 3000;
const ANVIL_START_TIMEOUT_MS = 60_000;

export interface LocalNodeOptions {
  /** The Hardhat network config to serve (default `"default"`, the in-process simulated chain). */
  network?: string;
  /** Overrides of that config: a fork's `forking`, `mining` (e.g. `{ auto: false, interval: 0 }`)… */
  override?: NetworkConfigOverride;
  /** An anvil process instead of an in-process Hardhat node, with these extra arguments (`network` is ignored). */
  anvil?: { args?: readonly string[] };
}

export interface LocalNode {
  /** `http://127.0.0.1:<port>`. */
  url: string;
  port: number;
  /** A Hardhat connection to this node over its URL (viem helpers, artifacts); `override` as `hre.network.create`'s. */
  connect(override?: NetworkConfigOverride): Promise<NetworkConnection>;
  /** Stops the node; resolves within a few seconds whatever its clients hold open. */
  close(): Promise<void>;
}

const bounded = (p: Promise<unknown>) => Promise.race([p, new Promise((r) => setTimeout(r, CLOSE_TIMEOUT_MS))]).then(() => undefined);

/**
 * Starts a local node on a free loopback port.
 *
 * @param options - Which chain to serve; nothing for a fresh in-process Hardhat chain.
 * @returns Its URL and port, a way to connect Hardhat's viem to it, and `close`.
 */
export async function startLocalNode(options: LocalNodeOptions = {}): Promise<LocalNode> {
  const hre = (await import("hardhat")).default;
  const connect = (override?: NetworkConfigOverride) =>
    hre.network.create({ network: "localhost", override: { ...override, url } as NetworkConfigOverride });
  let url: string;
  let port: number;
  let close: () => Promise<void>;
  if (options.anvil) {
    ({ url, port, close } = await startAnvil(options.anvil.args ?? []));
  } else {
    const server = await hre.network.createServer({ network: options.network ?? "default", ...(options.override ? { override: options.override } : {}) }, "127.0.0.1", 0);
    ({ port } = await server.listen());
    url = `http://127.0.0.1:${port}`;
    close = () => bounded(server.close());
  }
  return { url, port, connect, close };
}

/** anvil on a port it picks (`--port 0`), read from its "Listening on" line. */
async function startAnvil(args: readonly string[]): Promise<{ url: string; port: number; close: () => Promise<void> }> {
  const child = spawn(ANVIL, ["--port", "0", ...args], { stdio: ["ignore", "pipe", "ignore"] });
  const port = await new Promise<number>((resolve, reject) => {
    let seen = "";
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`anvil printed no "Listening on" line in ${ANVIL_START_TIMEOUT_MS / 1000} s: ${seen.slice(-500)}`));
    }, ANVIL_START_TIMEOUT_MS);
    const onData = (chunk: Buffer) => {
      seen += chunk.toString();
      const match = /Listening on 127\.0\.0\.1:(\d+)/.exec(seen);
      if (!match) return;
      clearTimeout(timer);
      child.stdout!.off("data", onData);
      child.stdout!.resume(); // keep draining its request log, or anvil blocks on a full pipe
      resolve(Number(match[1]));
    };
    child.stdout!.on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`anvil exited (${code}) before listening: ${seen.slice(-500)}`));
    });
  });
  const exited = new Promise<void>((resolve) => (child.exitCode !== null ? resolve() : child.once("exit", () => resolve())));
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    close: () => {
      child.kill();
      return bounded(exited);
    },
  };
}

/**
 * A loopback port the OS just handed out, closed again: for "nothing listens here", or for a server that must be
 * told its port before it starts.
 */
export async function unusedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
