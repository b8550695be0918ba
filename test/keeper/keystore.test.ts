/**
 * Web3 Secret Storage v3 keystores: the spec's and geth's known-answer vectors, round trips through
 * `encryptKeystore`, and every refusal, each checked for leaks of the password or the key.
 */
import { createCipheriv, scryptSync } from "node:crypto";
import { keccak256, type Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { describe, expect, it } from "vitest";
import { decryptKeystore, encryptKeystore, KeystoreError, type KeystoreV3 } from "../../keeper/chain/keystore.ts";

// The Web3 Secret Storage Definition's test vectors, as geth keeps them in accounts/keystore/testdata/v3_test_vector.json.
const SPEC_PASSWORD = "testpassword";
const SPEC_KEY = "0x7a28b5ba57c53603b0b07b56bba752f7784bf506fa95edc395f5cf6c7514fe9d";
const SPEC_PBKDF2 = {
  crypto: {
    cipher: "aes-128-ctr",
    cipherparams: { iv: "6087dab2f9fdbbfaddc31a909735c1e6" },
    ciphertext: "5318b4d5bcd28de64ee5559e671353e16f075ecae9f99c7a79a38af5f869aa46",
    kdf: "pbkdf2",
    kdfparams: {
      c: 262144,
      dklen: 32,
      prf: "hmac-sha256",
      salt: "ae3cd4e7013836a3df6bd7241b12db061dbe2c6785853cce422d148a624ce0bd",
    },
    mac: "517ead924a9d0dc3124507e3393d175ce3ff7c1e96529c6c555ce9e51205e9b2",
  },
  id: "3198bc9c-6672-5ab3-d995-4942343ae5b6",
  version: 3,
};
const SPEC_SCRYPT = {
  crypto: {
    cipher: "aes-128-ctr",
    cipherparams: { iv: "83dbcc02d8ccb40e466191a123791e0e" },
    ciphertext: "d172bf743a674da9cdad04534d56926ef8358534d458fffccd4e6ad2fbde479c",
    kdf: "scrypt",
    kdfparams: {
      dklen: 32,
      n: 262144,
      r: 1,
      p: 8,
      salt: "ab0c7876052600dd703518d6fc3fe8984592145b591fc8fb5c6d43190334ba19",
    },
    mac: "2103ac29920d71da29f15d75b4a16dbe95cfd7ff8faea1056c33131d846e3097",
  },
  id: "3198bc9c-6672-5ab3-d995-4942343ae5b6",
  version: 3,
};
/** geth's "31_byte_key": an early keystore whose key lost its leading zero byte. */
const GETH_31_BYTE_KEY = {
  crypto: {
    cipher: "aes-128-ctr",
    cipherparams: { iv: "e0c41130a323adc1446fc82f724bca2f" },
    ciphertext: "9517cd5bdbe69076f9bf5057248c6c050141e970efa36ce53692d5d59a3984",
    kdf: "scrypt",
    kdfparams: { dklen: 32, n: 2, r: 8, p: 1, salt: "711f816911c92d649fb4c84b047915679933555030b3552c1212609b38208c63" },
    mac: "d5e116151c6aa71470e67a7d42c9620c75c4d23229847dcc127794f0732b0db5",
  },
  id: "fecfc4ce-e956-48fd-953b-30f8b52ed66c",
  version: 3,
};

// Hardhat's public test account #0: never funded outside a local chain.
const KEY: Hex = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const ADDRESS = privateKeyToAccount(KEY).address.toLowerCase().slice(2);
const PASSWORD = "hunter2-but-longer";
/** Small scrypt n: the format is the same, the work 256x less. */
const FAST = { n: 1024 } as const;
const FAST_KEYSTORE = encryptKeystore(KEY, PASSWORD, FAST);

function keystoreError(json: string, password: string): KeystoreError {
  try {
    decryptKeystore(json, password);
  } catch (error) {
    if (error instanceof KeystoreError) return error;
    throw error;
  }
  throw new Error("expected a KeystoreError, but the keystore decrypted");
}

/** `FAST_KEYSTORE` with one change applied to a copy. */
function edited(change: (keystore: Record<string, any>) => void): string {
  const copy = JSON.parse(FAST_KEYSTORE) as Record<string, any>;
  change(copy);
  return JSON.stringify(copy);
}

/** A message is safe when it holds neither the password nor any part of the key. */
function expectNoSecrets(message: string, password = PASSWORD, key: string = KEY): void {
  expect(message).not.toContain(password);
  expect(message.toLowerCase()).not.toContain(key.slice(2, 18).toLowerCase());
}

describe("decryptKeystore: known answers", () => {
  it("decrypts the spec's pbkdf2 vector (c = 262144) to its key, whose address viem agrees on", () => {
    const key = decryptKeystore(JSON.stringify(SPEC_PBKDF2), SPEC_PASSWORD);
    expect(key).toBe(SPEC_KEY);
    expect(privateKeyToAccount(key).address.toLowerCase()).toBe("0x008aeeda4d805471df9b2a5b0f38a0c3bcba786b");
  });

  it("decrypts the spec's scrypt vector (n = 262144, r = 1, p = 8), parameters OpenSSL refuses", () => {
    // RFC 7914 wants n < 2^(16r); node:crypto enforces it, so this runs on @noble/hashes' scrypt. web3.py writes
    // the same parameters.
    expect(() => scryptSync("x", "y", 32, { N: 262144, r: 1, p: 8, maxmem: 2 ** 30 })).toThrow(/memory limit/);
    expect(decryptKeystore(JSON.stringify(SPEC_SCRYPT), SPEC_PASSWORD)).toBe(SPEC_KEY);
  });

  it("decrypts geth's 31-byte-key vector to the key with its leading zero byte restored", () => {
    expect(decryptKeystore(JSON.stringify(GETH_31_BYTE_KEY), "foo")).toBe(
      "0x00fa7b3db73dc7dfdf8c5fbdb796d741e4488628c41fc4febd9160a866ba0f35",
    );
  });

  it("accepts the capitalised Crypto field of older tools, and 0x-prefixed hex", () => {
    const { crypto, ...rest } = SPEC_PBKDF2;
    const older = { ...rest, Crypto: { ...crypto, mac: `0x${crypto.mac}`, ciphertext: `0x${crypto.ciphertext}` } };
    expect(decryptKeystore(JSON.stringify(older), SPEC_PASSWORD)).toBe(SPEC_KEY);
  });

  it("left-pads a short iv, as eth-keyfile writes one with a leading zero byte", () => {
    // Re-encrypt FAST_KEYSTORE's key under an iv starting with 00, written without it.
    const keystore = JSON.parse(FAST_KEYSTORE) as KeystoreV3;
    const params = keystore.crypto.kdfparams as { n: number; r: number; p: number; salt: string };
    const derivedKey = scryptSync(PASSWORD, Buffer.from(params.salt, "hex"), 32, { N: params.n, r: params.r, p: params.p });
    const iv = Buffer.from(`00${"ab".repeat(15)}`, "hex");
    const cipher = createCipheriv("aes-128-ctr", derivedKey.subarray(0, 16), iv);
    const ciphertext = Buffer.concat([cipher.update(Buffer.from(KEY.slice(2), "hex")), cipher.final()]);
    keystore.crypto.cipherparams.iv = iv.subarray(1).toString("hex");
    keystore.crypto.ciphertext = ciphertext.toString("hex");
    keystore.crypto.mac = keccak256(Buffer.concat([derivedKey.subarray(16, 32), ciphertext])).slice(2);
    expect(decryptKeystore(JSON.stringify(keystore), PASSWORD)).toBe(KEY);
  });
});

describe("encryptKeystore", () => {
  it("writes a standard v3 keystore: lowercase address without 0x, uuid, scrypt r = 8, p = 1, 32-byte salt", () => {
    const keystore = JSON.parse(FAST_KEYSTORE) as KeystoreV3;
    expect(keystore).toEqual({
      address: ADDRESS,
      crypto: {
        cipher: "aes-128-ctr",
        ciphertext: expect.stringMatching(/^[0-9a-f]{64}$/),
        cipherparams: { iv: expect.stringMatching(/^[0-9a-f]{32}$/) },
        kdf: "scrypt",
        kdfparams: { dklen: 32, n: 1024, r: 8, p: 1, salt: expect.stringMatching(/^[0-9a-f]{64}$/) },
        mac: expect.stringMatching(/^[0-9a-f]{64}$/),
      },
      id: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/),
      version: 3,
    });
    expect(FAST_KEYSTORE).not.toContain(KEY.slice(2));
  });

  it("round-trips with scrypt", () => {
    expect(decryptKeystore(FAST_KEYSTORE, PASSWORD)).toBe(KEY);
    // Fresh salt and iv each time: the same key and password never give the same file.
    const again = JSON.parse(encryptKeystore(KEY, PASSWORD, FAST)) as KeystoreV3;
    expect(again.crypto.ciphertext).not.toBe((JSON.parse(FAST_KEYSTORE) as KeystoreV3).crypto.ciphertext);
  });

  it("round-trips with scrypt at its default n = 262144 (256 MiB)", () => {
    const keystore = encryptKeystore(KEY, PASSWORD);
    expect((JSON.parse(keystore) as KeystoreV3).crypto.kdfparams).toMatchObject({ n: 262144, r: 8, p: 1 });
    expect(decryptKeystore(keystore, PASSWORD)).toBe(KEY);
  });

  it("round-trips with pbkdf2 (c = 262144 by default, n sets it)", () => {
    const keystore = encryptKeystore(KEY, PASSWORD, { kdf: "pbkdf2" });
    expect((JSON.parse(keystore) as KeystoreV3).crypto.kdfparams).toEqual({
      c: 262144,
      dklen: 32,
      prf: "hmac-sha256",
      salt: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    expect(decryptKeystore(keystore, PASSWORD)).toBe(KEY);
    const light = encryptKeystore(KEY, PASSWORD, { kdf: "pbkdf2", n: 1000 });
    expect((JSON.parse(light) as KeystoreV3).crypto.kdfparams).toMatchObject({ c: 1000 });
    expect(decryptKeystore(light, PASSWORD)).toBe(KEY);
  });

  it("round-trips an empty password and one with spaces and non-ASCII characters", () => {
    for (const password of ["", "  ünïcødé pass phrase  "]) {
      expect(decryptKeystore(encryptKeystore(KEY, password, FAST), password)).toBe(KEY);
    }
  });

  it("refuses a key that is not a secp256k1 private key, without showing it", () => {
    for (const key of [KEY.slice(0, -2), `0x${"0".repeat(64)}`, `0x${"f".repeat(64)}`, KEY.slice(2)]) {
      expect(() => encryptKeystore(key as Hex, PASSWORD, FAST)).toThrow(KeystoreError);
    }
    let message = "";
    try {
      encryptKeystore(KEY.slice(0, -2) as Hex, PASSWORD, FAST);
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/value not shown/);
    expectNoSecrets(message);
  });

  it("refuses a scrypt n that is not a power of 2", () => {
    expect(() => encryptKeystore(KEY, PASSWORD, { n: 1000 })).toThrow("scrypt n must be a power of 2, at least 2 (got 1000)");
  });
});

describe("decryptKeystore: refusals", () => {
  it("a wrong password: the MAC does not match, and the message holds neither password", () => {
    const error = keystoreError(FAST_KEYSTORE, "hunter3-but-longer");
    expect(error.name).toBe("KeystoreError");
    expect(error.message).toBe("the keystore's MAC does not match: wrong password or corrupted file");
    expectNoSecrets(error.message);
    expect(error.message).not.toContain("hunter3");
  });

  it("a corrupted ciphertext fails the MAC too", () => {
    const flipped = edited((keystore) => {
      const text: string = keystore.crypto.ciphertext;
      keystore.crypto.ciphertext = `${text.slice(0, -1)}${text.endsWith("0") ? "1" : "0"}`;
    });
    expect(keystoreError(flipped, PASSWORD).message).toBe("the keystore's MAC does not match: wrong password or corrupted file");
  });

  it("an address field that disagrees with the key (the MAC does not cover it, nor the iv)", () => {
    const other = edited((keystore) => {
      keystore.address = "8ba1f109551bd432803012645ac136ddd64dba72";
    });
    expect(keystoreError(other, PASSWORD).message).toBe(
      "the keystore's address field does not match its key: corrupted or edited file",
    );
    // With 0x and checksummed it is still the same address.
    const checksummed = edited((keystore) => {
      keystore.address = privateKeyToAccount(KEY).address;
    });
    expect(decryptKeystore(checksummed, PASSWORD)).toBe(KEY);
  });

  it("text that is not JSON, without quoting it (it may be a raw key pasted in by mistake)", () => {
    for (const text of [KEY, `{ "crypto": ${KEY}`, ""]) {
      const error = keystoreError(text, PASSWORD);
      expect(error.message).toBe("the keystore is not valid JSON");
    }
    expect(keystoreError("[1, 2]", PASSWORD).message).toBe("the keystore is not a JSON object");
    expect(keystoreError("null", PASSWORD).message).toBe("the keystore is not a JSON object");
  });

  it.each([
    [1, "1"],
    ["3", '"3"'],
    [undefined, "missing"],
  ])("a keystore of version %j", (version, shown) => {
    const other = edited((keystore) => {
      keystore.version = version;
    });
    expect(keystoreError(other, PASSWORD).message).toBe(`not a version 3 keystore (version: ${shown})`);
  });

  it("an unsupported kdf, cipher or prf, named", () => {
    const argon = edited((keystore) => {
      keystore.crypto.kdf = "argon2id";
    });
    expect(keystoreError(argon, PASSWORD).message).toBe('unsupported kdf "argon2id" (only scrypt and pbkdf2 are)');
    const cbc = edited((keystore) => {
      keystore.crypto.cipher = "aes-128-cbc";
    });
    expect(keystoreError(cbc, PASSWORD).message).toBe('unsupported cipher "aes-128-cbc" (only aes-128-ctr is)');
    const sha512 = JSON.parse(JSON.stringify(SPEC_PBKDF2));
    sha512.crypto.kdfparams.prf = "hmac-sha512";
    expect(keystoreError(JSON.stringify(sha512), SPEC_PASSWORD).message).toBe(
      'unsupported pbkdf2 prf "hmac-sha512" (only hmac-sha256 is)',
    );
  });

  it.each<[string, (keystore: Record<string, any>) => void, string]>([
    ["no crypto", (k) => delete k.crypto, "crypto is missing"],
    ["crypto a string", (k) => (k.crypto = "aes"), "crypto must be an object"],
    ["no kdf", (k) => delete k.crypto.kdf, "crypto.kdf is missing"],
    ["iv too long", (k) => (k.crypto.cipherparams.iv += "00"), "crypto.cipherparams.iv must be 16 bytes of hex (32 digits)"],
    ["iv not hex", (k) => (k.crypto.cipherparams.iv = "zz".repeat(16)), "crypto.cipherparams.iv must be hex"],
    ["no cipherparams", (k) => delete k.crypto.cipherparams, "crypto.cipherparams is missing"],
    ["ciphertext odd", (k) => (k.crypto.ciphertext += "0"), "crypto.ciphertext must be hex"],
    [
      "ciphertext too long",
      (k) => (k.crypto.ciphertext += "00"),
      "crypto.ciphertext must be an encrypted 32-byte key (at most 64 hex digits)",
    ],
    ["mac short", (k) => (k.crypto.mac = k.crypto.mac.slice(2)), "crypto.mac must be 32 bytes of hex (64 digits)"],
    ["mac a number", (k) => (k.crypto.mac = 1), "crypto.mac must be a string"],
    ["no kdfparams", (k) => delete k.crypto.kdfparams, "crypto.kdfparams is missing"],
    ["salt not hex", (k) => (k.crypto.kdfparams.salt = "salt"), "crypto.kdfparams.salt must be hex"],
    ["dklen 16", (k) => (k.crypto.kdfparams.dklen = 16), "crypto.kdfparams.dklen must be an integer from 32 to 1024"],
    ["n 1000", (k) => (k.crypto.kdfparams.n = 1000), "crypto.kdfparams.n must be a power of 2"],
    ["n a string", (k) => (k.crypto.kdfparams.n = "1024"), "crypto.kdfparams.n must be an integer from 2 to 1073741824"],
    ["no r", (k) => delete k.crypto.kdfparams.r, "crypto.kdfparams.r is missing"],
    ["p 0", (k) => (k.crypto.kdfparams.p = 0), "crypto.kdfparams.p must be an integer from 1 to 1048576"],
    [
      "n · r over 2 GiB",
      (k) => Object.assign(k.crypto.kdfparams, { n: 2 ** 22, r: 8 }),
      "crypto.kdfparams.n: scrypt parameters need more than 2 GiB of memory (n · r too large)",
    ],
    ["address a number", (k) => (k.address = 1), "address must be a string"],
  ])("a malformed field (%s), named", (_, change, message) => {
    const error = keystoreError(edited(change), PASSWORD);
    expect(error.message).toBe(message);
    expectNoSecrets(error.message);
  });

  it("pbkdf2 fields are checked the same way", () => {
    const noC = JSON.parse(JSON.stringify(SPEC_PBKDF2));
    delete noC.crypto.kdfparams.c;
    expect(keystoreError(JSON.stringify(noC), SPEC_PASSWORD).message).toBe("crypto.kdfparams.c is missing");
  });
});
