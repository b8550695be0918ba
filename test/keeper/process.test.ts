/**
 * The keeper process itself on bad input: one clear line per problem and exit code 2 — never a stack trace,
 * never a secret in the output.
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

function keeper(args: string[], env: Record<string, string>) {
  const result = spawnSync(process.execPath, ["keeper/index.ts", ...args], {
    cwd: ROOT,
    // A clean environment: nothing from the developer's shell or .env leaks in.
    env: { PATH: process.env.PATH ?? "", ...env },
    encoding: "utf8",
    timeout: 30_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe("keeper process", () => {
  it("exits 2 with one line per bad variable, no stack trace and no secret", () => {
    const secret = "0x1234"; // malformed on purpose: must not be echoed
    const r = keeper(["run", "--env-file", "/dev/null"], {
      RPC_URL: "not a url",
      PRIVATE_KEY: secret,
      VAULTS: "0xnope",
      MAX_FEE_GWEI: "lots",
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^configuration error/);
    for (const variable of ["RPC_URL", "PRIVATE_KEY", "VAULTS", "MAX_FEE_GWEI"]) expect(r.stderr).toContain(`${variable}:`);
    expect(r.stderr).not.toContain(secret);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack frames
  });

  it("exits 2 on an unknown flag with a suggestion", () => {
    const r = keeper(["run", "--dryrun"], {});
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--dry-run/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it("prints help and exits 0", () => {
    const r = keeper(["--help"], {});
    expect(r.code).toBe(0);
    for (const command of ["run", "once", "status"]) expect(r.stdout).toContain(command);
    expect(r.stdout).toContain("--dry-run");
  });

  it("exits 1 with a clear fatal line when the RPC is unreachable, without the URL's credentials", () => {
    const r = keeper(["status", "--env-file", "/dev/null"], {
      RPC_URL: "http://user:hunter2@127.0.0.1:9/v2/apikey123",
      LENS_ADDRESS: "0x5FC8d32690cc91D4c39d9d3abcBD16989F875707",
      VAULTS: "0xDc64a140Aa3E981100a9becA4E685f962f0cF6C9",
    });
    expect(r.code).toBe(1);
    const out = r.stdout + r.stderr;
    expect(out).toContain("cannot read the vaults through the lens at startup");
    expect(out).not.toContain("hunter2");
    expect(out).not.toContain("apikey123");
  });
});
