import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { renderAbiModule } from "../../harness/abi.ts";

describe("keeper/abi.ts", () => {
  it("matches the compiled contracts (run `npm run abi` after changing a contract)", async () => {
    const committed = await readFile(new URL("../../keeper/abi.ts", import.meta.url), "utf8");
    expect(committed).toBe(await renderAbiModule());
  });
});
