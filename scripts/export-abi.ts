/**
 * `npm run abi`: writes the ABIs the keeper needs to `keeper/abi.ts` as `as const` literals, so viem infers
 * every read, write, event and custom error at compile time and the keeper runs without Hardhat or artifacts.
 * `test/keeper/abi.test.ts` fails when the file is stale.
 */
import { writeFile } from "node:fs/promises";
import { renderAbiModule } from "../harness/abi.ts";

const out = new URL("../keeper/abi.ts", import.meta.url);
await writeFile(out, await renderAbiModule());
console.log(`wrote ${out.pathname}`);
