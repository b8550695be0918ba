/**
 * Encrypted JSON keystores (Web3 Secret Storage Definition, version 3: the format of geth's `keystore/` files,
 * Foundry's `cast wallet import` and most wallets' "export JSON"), with `node:crypto` and, for the scrypt parameters
 * OpenSSL refuses, `@noble/hashes`.
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
import { scrypt as nobleScrypt } from "@noble/hashes/scrypt";
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
  // Those go to @noble/hashes (the copy viem already brings); the rest to OpenSSL, natively and faster.
  try {
    if (n >= 2 ** (16 * r)) {
      return Buffer.from(nobleScrypt(password, salt, { N: n, r, p, dkLen: dklen, maxmem: memoryBytes + 1024 * 1024 }));
    }
    return scryptSync(password, salt, dklen, { N: n, r, p, maxmem: memoryBytes + 1024 * 1024 });
  } catch (error) {
    // Both libraries' messages here are about the parameters (e.g. "Invalid scrypt params"), never the inputs.
    const reason = error instanceof Error ? error.message : String(error);
    throw new KeystoreError(`${field}: scrypt rejected the parameters (${reason})`, { cause: error });
  }
}

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
