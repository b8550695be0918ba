/**
 * Encrypted JSON keystores (Web3 Secret Storage Definition, version 3: the format of geth's `keystore/` files,
 * Foundry's `cast wallet import` and most wallets' "export JSON"), with `node:crypto` only.
 *
 * Spec: https://ethereum.org/developers/docs/data-structures-and-encoding/web3-secret-storage/
 *   derivedKey = kdf(password, salt)              scrypt(n, r, p, dklen) or pbkdf2(c, hmac-sha256, dklen)
 *   mac        = keccak256(derivedKey[16..32] ‖ ciphertext)
 *   privateKey = aes-128-ctr-decrypt(key = derivedKey[0..16], iv, ciphertext)
 *
 * The password is used as its UTF-8 bytes, unnormalised (as geth does). No message of `KeystoreError` holds the
 * password, the derived key, the private key or the file's text.
 */
import {
  createCipheriv,
  createDecipheriv,
  pbkdf2Sync,
  randomBytes,
  randomUUID,
  scryptSync,
  timingSafeEqual,
} from "node:crypto";
import { keccak256 } from "viem";
import type { Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";

/** A keystore that cannot be decrypted, or a key that cannot be encrypted; the message says why. */
export class KeystoreError extends Error {
  override name = "KeystoreError";
}

/** The JSON shape `encryptKeystore` writes (and, with either kdf, `decryptKeystore` reads). */
export interface KeystoreV3 {
  /** The account, lowercase hex without 0x. */
  address: string;
  crypto: {
    cipher: "aes-128-ctr";
    ciphertext: string;
    cipherparams: { iv: string };
    kdf: "scrypt" | "pbkdf2";
    kdfparams: ScryptParams | Pbkdf2Params;
    mac: string;
  };
  id: string;
  version: 3;
}

interface ScryptParams {
  dklen: number;
  n: number;
  p: number;
  r: number;
  salt: string;
}

interface Pbkdf2Params {
  c: number;
  dklen: number;
  prf: "hmac-sha256";
  salt: string;
}

/** geth's "standard" scrypt cost (`keystore.StandardScryptN`, r = 8, p = 1): 256 MiB and about a second. */
const DEFAULT_SCRYPT_N = 262_144;
const DEFAULT_PBKDF2_C = 262_144;
/** scrypt needs 128 · r · (n + p + 2) bytes; above this a keystore is refused rather than allowed to exhaust memory. */
const MAX_SCRYPT_MEMORY_BYTES = 2 ** 31;
/** Order of secp256k1: a private key is in [1, n - 1]. */
const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

/**
 * The private key in a v3 keystore (`json`, the file's text), or a `KeystoreError`: not JSON, not version 3, an
 * unsupported kdf or cipher, a malformed field (named), or a wrong password (the MAC does not match).
 *
 * Synchronous and deliberately slow: a standard scrypt keystore takes about a second and 256 MiB.
 */
export function decryptKeystore(json: string, password: string): Hex {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    // JSON.parse's own message quotes the text around the error, which may be a key pasted in by mistake.
    throw new KeystoreError("the keystore is not valid JSON");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new KeystoreError("the keystore is not a JSON object");
  }
  const keystore = parsed as Record<string, unknown>;
  const { version } = keystore;
  if (version !== 3) {
    const got =
      version === undefined
        ? "missing"
        : typeof version === "number"
          ? String(version)
          : typeof version === "string"
            ? quote(version)
            : "not a number";
    throw new KeystoreError(`not a version 3 keystore (version: ${got})`);
  }
  // "Crypto": written by some older tools; geth and ethers accept it too.
  const cryptoField = keystore.crypto !== undefined ? "crypto" : keystore.Crypto !== undefined ? "Crypto" : "crypto";
  const crypto = object(keystore[cryptoField], cryptoField);

  const cipher = string(crypto.cipher, `${cryptoField}.cipher`);
  if (cipher !== "aes-128-ctr") throw new KeystoreError(`unsupported cipher ${quote(cipher)} (only aes-128-ctr is)`);
  const kdf = string(crypto.kdf, `${cryptoField}.kdf`);
  if (kdf !== "scrypt" && kdf !== "pbkdf2") {
    throw new KeystoreError(`unsupported kdf ${quote(kdf)} (only scrypt and pbkdf2 are)`);
  }
  const iv = counterBlock(object(crypto.cipherparams, `${cryptoField}.cipherparams`).iv, `${cryptoField}.cipherparams.iv`);
  const ciphertext = hex(crypto.ciphertext, `${cryptoField}.ciphertext`);
  // Early geth wrote keys with leading zero bytes dropped (its testdata keeps 30- and 31-byte examples).
  if (ciphertext.length === 0 || ciphertext.length > 32) {
    throw new KeystoreError(`${cryptoField}.ciphertext must be an encrypted 32-byte key (at most 64 hex digits)`);
  }
  const mac = hex(crypto.mac, `${cryptoField}.mac`, 32);
  const params = object(crypto.kdfparams, `${cryptoField}.kdfparams`);
  const field = (name: string) => `${cryptoField}.kdfparams.${name}`;

  const salt = hex(params.salt, field("salt"));
  const dklen = integer(params.dklen, field("dklen"), 32, 1024);
  let derivedKey: Buffer;
  if (kdf === "scrypt") {
    const n = integer(params.n, field("n"), 2, 2 ** 30);
    if ((n & (n - 1)) !== 0) throw new KeystoreError(`${field("n")} must be a power of 2`);
    const r = integer(params.r, field("r"), 1, 2 ** 20);
    const p = integer(params.p, field("p"), 1, 2 ** 20);
    derivedKey = scrypt(password, salt, { n, r, p, dklen }, field("n"));
  } else {
    const prf = string(params.prf, field("prf"));
    if (prf !== "hmac-sha256") throw new KeystoreError(`unsupported pbkdf2 prf ${quote(prf)} (only hmac-sha256 is)`);
    const c = integer(params.c, field("c"), 1, 2 ** 31 - 1);
    derivedKey = pbkdf2Sync(password, salt, c, dklen, "sha256");
  }

  if (!timingSafeEqual(mac, macOf(derivedKey, ciphertext))) {
    throw new KeystoreError("the keystore's MAC does not match: wrong password or corrupted file");
  }
  const decipher = createDecipheriv("aes-128-ctr", derivedKey.subarray(0, 16), iv);
  const plaintext = Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  const privateKey = `0x${plaintext.toString("hex").padStart(64, "0")}` as Hex;

  const scalar = BigInt(privateKey);
  if (scalar === 0n || scalar >= SECP256K1_N) {
    throw new KeystoreError("the keystore decrypts to a value that is not a valid secp256k1 private key");
  }
  if (keystore.address !== undefined) {
    const declared = string(keystore.address, "address").toLowerCase().replace(/^0x/, "");
    if (declared !== addressOf(privateKey)) {
      throw new KeystoreError("the keystore's address field does not match its key: corrupted or edited file");
    }
  }
  return privateKey;
}

/**
 * A v3 keystore (JSON text) holding `privateKey`, encrypted under `password`: what `KEYSTORE_PATH` points to.
 *
 * Defaults are geth's: scrypt with n = 262144, r = 8, p = 1; or pbkdf2-hmac-sha256 with c = 262144. `n` sets the
 * work factor of either kdf (scrypt's n, a power of 2; pbkdf2's c); lower it only in tests. To create one for the
 * keeper, with the key and password read from files rather than typed on a command line:
 *
 * ```sh
 * node --input-type=module -e '
 *   import { readFileSync, writeFileSync } from "node:fs";
 *   import { encryptKeystore } from "./keeper/chain/keystore.ts";
 *   const key = readFileSync("key.txt", "utf8").trim();
 *   const password = readFileSync("password.txt", "utf8").replace(/\r?\n$/, "");
 *   writeFileSync("keystore.json", encryptKeystore(key, password), { mode: 0o600 });'
 * ```
 *
 * (then delete `key.txt`). `cast wallet import` and `geth account import` write the same format.
 */
export function encryptKeystore(
  privateKey: Hex,
  password: string,
  options: { kdf?: "scrypt" | "pbkdf2"; n?: number } = {},
): string {
  if (!/^0x[0-9a-fA-F]{64}$/.test(privateKey) || BigInt(privateKey) === 0n || BigInt(privateKey) >= SECP256K1_N) {
    throw new KeystoreError(
      "not a secp256k1 private key: 0x followed by 64 hex digits, below the curve order (value not shown)",
    );
  }
  const kdf = options.kdf ?? "scrypt";
  const salt = randomBytes(32);
  const dklen = 32;
  let derivedKey: Buffer;
  let kdfparams: ScryptParams | Pbkdf2Params;
  if (kdf === "scrypt") {
    const n = options.n ?? DEFAULT_SCRYPT_N;
    if (!Number.isSafeInteger(n) || n < 2 || (n & (n - 1)) !== 0 || n > 2 ** 30) {
      throw new KeystoreError(`scrypt n must be a power of 2, at least 2 (got ${n})`);
    }
    kdfparams = { dklen, n, p: 1, r: 8, salt: salt.toString("hex") };
    derivedKey = scrypt(password, salt, { n, r: 8, p: 1, dklen }, "n");
  } else {
    const c = options.n ?? DEFAULT_PBKDF2_C;
    if (!Number.isSafeInteger(c) || c < 1 || c > 2 ** 31 - 1) {
      throw new KeystoreError(`pbkdf2 iteration count must be a positive integer (got ${c})`);
    }
    kdfparams = { c, dklen, prf: "hmac-sha256", salt: salt.toString("hex") };
    derivedKey = pbkdf2Sync(password, salt, c, dklen, "sha256");
  }

  const iv = randomBytes(16);
  const cipher = createCipheriv("aes-128-ctr", derivedKey.subarray(0, 16), iv);
  const ciphertext = Buffer.concat([cipher.update(Buffer.from(privateKey.slice(2), "hex")), cipher.final()]);
  const keystore: KeystoreV3 = {
    address: addressOf(privateKey),
    crypto: {
      cipher: "aes-128-ctr",
      ciphertext: ciphertext.toString("hex"),
      cipherparams: { iv: iv.toString("hex") },
      kdf,
      kdfparams,
      mac: macOf(derivedKey, ciphertext).toString("hex"),
    },
    id: randomUUID(),
    version: 3,
  };
  return JSON.stringify(keystore);
}

// ── Helpers ───────────────────────────────────────────────────────────────────────────────────────────────────

function macOf(derivedKey: Buffer, ciphertext: Buffer): Buffer {
  return Buffer.from(keccak256(Buffer.concat([derivedKey.subarray(16, 32), ciphertext]), "bytes"));
}

function addressOf(privateKey: Hex): string {
  return privateKeyToAccount(privateKey).address.toLowerCase().slice(2);
}

function scrypt(
  password: string,
  salt: Buffer,
  params: { n: number; r: number; p: number; dklen: number },
  field: string,
): Buffer {
  const { n, r, p, dklen } = params;
  // OpenSSL's bound: the V array (128·r·(n + 2)) plus the B array (128·r·p). Node's default maxmem is 32 MiB,
  // too little for the standard n = 262144, r = 8 (256 MiB).
  const memoryBytes = 128 * r * (n + p + 2);
  if (memoryBytes > MAX_SCRYPT_MEMORY_BYTES) {
    throw new KeystoreError(`${field}: scrypt parameters need more than 2 GiB of memory (n · r too large)`);
  }
  // RFC 7914 asks for n < 2^(16·r), and OpenSSL enforces it; but the spec's own test vector, and every scrypt
  // keystore web3.py / eth-keyfile writes, use r = 1 with n = 262144.
  if (n >= 2 ** (16 * r)) return scryptPortable(password, salt, params);
  try {
    return scryptSync(password, salt, dklen, { N: n, r, p, maxmem: memoryBytes + 1024 * 1024 });
  } catch (error) {
    // Node's messages here are about the parameters (e.g. "Invalid scrypt params"), never the inputs.
    const reason = error instanceof Error ? error.message : String(error);
    throw new KeystoreError(`${field}: scrypt rejected the parameters (${reason})`, { cause: error });
  }
}

// Stryker disable all: a cryptographic primitive pinned by the spec's known-answer vectors and a differential
// test against node:crypto; instrumented, its inner loop makes one vector take minutes (Stryker's dry run times out).
/**
 * scrypt (RFC 7914) in TypeScript, for the parameters OpenSSL refuses (see `scrypt`); PBKDF2 from node:crypto.
 * Same result as `crypto.scryptSync` wherever both run; a second or so for n = 262144, r = 1, p = 8. Exported
 * for its differential test.
 */
export function scryptPortable(
  password: string | Buffer,
  salt: Buffer,
  params: { n: number; r: number; p: number; dklen: number },
): Buffer {
  const { n, r, p, dklen } = params;
  const blockBytes = 128 * r;
  const b = pbkdf2Sync(password, salt, 1, p * blockBytes, "sha256");
  const words = 32 * r;
  const x = new Uint32Array(words);
  const y = new Uint32Array(words);
  const v = new Uint32Array(words * n);
  const scratch = new Uint32Array(16);
  for (let lane = 0; lane < p; lane++) {
    const offset = lane * blockBytes;
    // Words are little-endian (RFC 7914 §2), whatever the platform's order.
    for (let i = 0; i < words; i++) x[i] = b.readUInt32LE(offset + 4 * i);
    // ROMix: fill V with n successive BlockMix outputs, then walk it at data-dependent indices.
    for (let i = 0; i < n; i++) {
      v.set(x, i * words);
      blockMix(x, y, scratch, r);
    }
    for (let i = 0; i < n; i++) {
      // Integerify: the first word of the last 64-byte block; n ≤ 2^30, so its low 32 bits suffice.
      const j = x[(2 * r - 1) * 16]! & (n - 1);
      for (let k = 0; k < words; k++) x[k] = x[k]! ^ v[j * words + k]!;
      blockMix(x, y, scratch, r);
    }
    for (let i = 0; i < words; i++) b.writeUInt32LE(x[i]!, offset + 4 * i);
  }
  return pbkdf2Sync(password, b, 1, dklen, "sha256");
}

/** scryptBlockMix: `x` (2r blocks of 16 words) in place; `y` and `t` are scratch. */
function blockMix(x: Uint32Array, y: Uint32Array, t: Uint32Array, r: number): void {
  t.set(x.subarray((2 * r - 1) * 16, 2 * r * 16));
  for (let i = 0; i < 2 * r; i++) {
    for (let k = 0; k < 16; k++) t[k] = t[k]! ^ x[i * 16 + k]!;
    salsa20_8(t);
    // Even blocks to the first half, odd ones to the second.
    y.set(t, ((i >> 1) + (i & 1) * r) * 16);
  }
  x.set(y);
}

/** The Salsa20/8 core (RFC 7914 §3) on 16 words, in place. */
function salsa20_8(b: Uint32Array): void {
  let x0 = b[0]!, x1 = b[1]!, x2 = b[2]!, x3 = b[3]!, x4 = b[4]!, x5 = b[5]!, x6 = b[6]!, x7 = b[7]!;
  let x8 = b[8]!, x9 = b[9]!, x10 = b[10]!, x11 = b[11]!, x12 = b[12]!, x13 = b[13]!, x14 = b[14]!, x15 = b[15]!;
  const rotl = (a: number, shift: number) => (a << shift) | (a >>> (32 - shift));
  for (let round = 0; round < 8; round += 2) {
    // Columns.
    x4 ^= rotl((x0 + x12) | 0, 7); x8 ^= rotl((x4 + x0) | 0, 9); x12 ^= rotl((x8 + x4) | 0, 13); x0 ^= rotl((x12 + x8) | 0, 18);
    x9 ^= rotl((x5 + x1) | 0, 7); x13 ^= rotl((x9 + x5) | 0, 9); x1 ^= rotl((x13 + x9) | 0, 13); x5 ^= rotl((x1 + x13) | 0, 18);
    x14 ^= rotl((x10 + x6) | 0, 7); x2 ^= rotl((x14 + x10) | 0, 9); x6 ^= rotl((x2 + x14) | 0, 13); x10 ^= rotl((x6 + x2) | 0, 18);
    x3 ^= rotl((x15 + x11) | 0, 7); x7 ^= rotl((x3 + x15) | 0, 9); x11 ^= rotl((x7 + x3) | 0, 13); x15 ^= rotl((x11 + x7) | 0, 18);
    // Rows.
    x1 ^= rotl((x0 + x3) | 0, 7); x2 ^= rotl((x1 + x0) | 0, 9); x3 ^= rotl((x2 + x1) | 0, 13); x0 ^= rotl((x3 + x2) | 0, 18);
    x6 ^= rotl((x5 + x4) | 0, 7); x7 ^= rotl((x6 + x5) | 0, 9); x4 ^= rotl((x7 + x6) | 0, 13); x5 ^= rotl((x4 + x7) | 0, 18);
    x11 ^= rotl((x10 + x9) | 0, 7); x8 ^= rotl((x11 + x10) | 0, 9); x9 ^= rotl((x8 + x11) | 0, 13); x10 ^= rotl((x9 + x8) | 0, 18);
    x12 ^= rotl((x15 + x14) | 0, 7); x13 ^= rotl((x12 + x15) | 0, 9); x14 ^= rotl((x13 + x12) | 0, 13); x15 ^= rotl((x14 + x13) | 0, 18);
  }
  // A Uint32Array stores modulo 2^32: these are the additions mod 2^32 of the spec.
  b[0] = b[0]! + x0; b[1] = b[1]! + x1; b[2] = b[2]! + x2; b[3] = b[3]! + x3;
  b[4] = b[4]! + x4; b[5] = b[5]! + x5; b[6] = b[6]! + x6; b[7] = b[7]! + x7;
  b[8] = b[8]! + x8; b[9] = b[9]! + x9; b[10] = b[10]! + x10; b[11] = b[11]! + x11;
  b[12] = b[12]! + x12; b[13] = b[13]! + x13; b[14] = b[14]! + x14; b[15] = b[15]! + x15;
}
// Stryker restore all

/**
 * The AES-CTR initial counter block. eth-keyfile writes the iv as a big-endian integer without leading zero bytes,
 * so about one file in 256 has a shorter one; left-padding restores the counter it encrypted with.
 */
function counterBlock(value: unknown, field: string): Buffer {
  const iv = hex(value, field);
  if (iv.length === 0 || iv.length > 16) throw new KeystoreError(`${field} must be 16 bytes of hex (32 digits)`);
  return Buffer.concat([Buffer.alloc(16 - iv.length), iv]);
}

function object(value: unknown, field: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new KeystoreError(value === undefined ? `${field} is missing` : `${field} must be an object`);
  }
  return value as Record<string, unknown>;
}

function string(value: unknown, field: string): string {
  if (typeof value !== "string") {
    throw new KeystoreError(value === undefined ? `${field} is missing` : `${field} must be a string`);
  }
  return value;
}

function integer(value: unknown, field: string, min: number, max: number): number {
  if (value === undefined) throw new KeystoreError(`${field} is missing`);
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new KeystoreError(`${field} must be an integer from ${min} to ${max}`);
  }
  return value;
}

/** Hex, with or without 0x; `bytes`: the exact length required. The value is never shown. */
function hex(value: unknown, field: string, bytes?: number): Buffer {
  const text = string(value, field).replace(/^0x/i, "");
  const expected = bytes === undefined ? "hex" : `${bytes} bytes of hex (${bytes * 2} digits)`;
  if (!/^(?:[0-9a-fA-F]{2})*$/.test(text) || (bytes !== undefined && text.length !== bytes * 2)) {
    throw new KeystoreError(`${field} must be ${expected}`);
  }
  return Buffer.from(text, "hex");
}

/** A name from the file (kdf, cipher), quoted and cut short. */
function quote(value: string): string {
  return JSON.stringify(value.length > 40 ? `${value.slice(0, 37)}...` : value);
}
