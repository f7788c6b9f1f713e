/**
 * Encryption at rest: sealed segments hold no plaintext, read back equal, survive key rotation, and fail
 * clearly — never with garbage — under a wrong key, a missing key, alteration, or a move to another key.
 */
import { createStorage } from "unstorage";
import { describe, expect, it } from "vitest";
import { memoryDriver } from "../storage-drivers/memory.ts";
import { failure } from "../test/expect-failure.ts";
import { aesGcmCodec, isSealed, PLAIN_CODEC, type SegmentCodec } from "./encryption.ts";
import { checkEncryptionKeys } from "./encryption-check.ts";
import { EventStore } from "./event-store.ts";
import type { StoredEvent } from "./json.ts";
import { listEvents } from "./list-events.ts";
import { encodeSegment } from "./segment-encode.ts";

const T0 = Date.UTC(2026, 2, 1);
const key = (fill: number) => new Uint8Array(32).fill(fill);
const ev = (id: string, secret: string): StoredEvent => ({
  id,
  type: "enrolled",
  time: T0 + 1000,
  data: { secret },
  lat: 52.52,
  lon: 13.405,
});

async function list(store: EventStore) {
  const sel = { tenant: "t", module: "m", start: T0, end: T0 + 86_400_000, types: [], filters: [] };
  return (await listEvents(store, { ...sel, asOf: Number.MAX_VALUE, order: "asc" }, 100, undefined)).events;
}

describe("AES-GCM segment codec", () => {
  it("seals so that no plaintext is stored, and opens to the same bytes", async () => {
    const codec = await aesGcmCodec(new Map([["k1", key(1)]]), "k1");
    const plain = encodeSegment([ev("e1", "the-plaintext-marker")], 1);
    const sealed = await codec.seal("v1:t:m:ev:20260301:abc", plain);
    expect(isSealed(sealed)).toBe(true);
    expect(new TextDecoder().decode(sealed)).not.toContain("the-plaintext-marker");
    expect(await codec.open("v1:t:m:ev:20260301:abc", sealed)).toEqual(plain);
    // Two seals of the same bytes differ (fresh IV).
    expect(await codec.seal("v1:t:m:ev:20260301:abc", plain)).not.toEqual(sealed);
  });

  it("fails clearly under a wrong key, a missing key, no keys, alteration, or another storage key", async () => {
    const k1 = await aesGcmCodec(new Map([["k1", key(1)]]), "k1");
    const wrong = await aesGcmCodec(new Map([["k1", key(2)]]), "k1");
    const other = await aesGcmCodec(new Map([["k2", key(1)]]), "k2");
    const at = "v1:t:m:ev:20260301:abc";
    const sealed = await k1.seal(at, encodeSegment([ev("e1", "s")], 1));
    expect(await failure(wrong.open(at, sealed))).toMatchObject({
      code: "data_loss",
      message: `segment ${at} cannot be decrypted with key "k1": the key is wrong or the segment was altered or moved`,
    });
    expect(await failure(other.open(at, sealed))).toMatchObject({
      code: "failed_precondition",
      message: `segment ${at} is encrypted with key "k1", which is not configured (configured: k2)`,
    });
    expect(await failure(PLAIN_CODEC.open(at, sealed))).toMatchObject({
      code: "failed_precondition",
      message: `segment ${at} is encrypted with key "k1", but no encryption keys are configured`,
    });
    const flipped = sealed.slice();
    flipped[flipped.length - 20]! ^= 1;
    expect((await failure(k1.open(at, flipped))).code).toBe("data_loss");
    // Copied under another tenant's key: the storage key is authenticated data.
    expect((await failure(k1.open("v1:u:m:ev:20260301:abc", sealed))).code).toBe("data_loss");
    expect((await failure(k1.open(at, sealed.subarray(0, 20)))).code).toBe("data_loss");
  });

  it("refuses bad keys at start", async () => {
    await expect(aesGcmCodec(new Map([["k1", new Uint8Array(16)]]), "k1")).rejects.toThrow("needs 32 bytes");
    await expect(aesGcmCodec(new Map([["k1", key(1)]]), "k9")).rejects.toThrow('current key "k9"');
    await expect(aesGcmCodec(new Map([["bad id", key(1)]]), "bad id")).rejects.toThrow("key id");
  });
});

describe("an encrypted store", () => {
  it("stores only sealed segments, reads them back, and reads older keys after rotation", async () => {
    const storage = createStorage({ driver: memoryDriver() });
    const v1 = await aesGcmCodec(new Map([["k1", key(1)]]), "k1");
    // Segments from before encryption was turned on stay readable.
    await new EventStore({ storage }).record("t", "m", [ev("plain", "p")]);
    const store1 = new EventStore({ storage, codec: v1 });
    await store1.record("t", "m", [ev("e1", "secret-one")]);
    const rotated: SegmentCodec = await aesGcmCodec(
      new Map([
        ["k1", key(1)],
        ["k2", key(3)],
      ]),
      "k2",
    );
    const store2 = new EventStore({ storage, codec: rotated });
    await store2.record("t", "m", [ev("e2", "secret-two")]);
    await store2.writeSegment("t", "m", "20260301", [ev("e3", "secret-three")], []);
    const keys = await storage.getKeys("v1:t:m:ev:20260301");
    const stored = await Promise.all(
      keys.map(async (k) => new Uint8Array((await storage.getItemRaw(k)) as Uint8Array)),
    );
    expect(stored.filter(isSealed)).toHaveLength(3);
    for (const bytes of stored) expect(new TextDecoder().decode(bytes)).not.toMatch(/secret-/);
    expect((await list(store2)).map((e) => [e.id, e.data.secret])).toEqual([
      ["e1", "secret-one"],
      ["e2", "secret-two"],
      ["e3", "secret-three"],
      ["plain", "p"],
    ]);
    // The store with only the old key refuses the new segments clearly instead of skipping them.
    expect((await failure(list(new EventStore({ storage, codec: v1 })))).code).toBe("failed_precondition");
    const wrong = await aesGcmCodec(
      new Map([
        ["k1", key(9)],
        ["k2", key(9)],
      ]),
      "k2",
    );
    expect((await failure(list(new EventStore({ storage, codec: wrong })))).code).toBe("data_loss");
  });
});

describe("a damaged sealed segment", () => {
  it("is quarantined when its key is proven right, so the day takes writes again; never under an unproven key", async () => {
    const storage = createStorage({ driver: memoryDriver() });
    const k1 = await aesGcmCodec(new Map([["k1", key(1)]]), "k1");
    const store = new EventStore({ storage, codec: k1 });
    await store.record("t", "m", [ev("e1", "s")]);
    const [segmentKey] = await storage.getKeys("v1:t:m:ev");
    const sealed = (await storage.getItemRaw(segmentKey!)) as Uint8Array;
    const flipped = sealed.slice();
    flipped[flipped.length - 20]! ^= 0xff;
    await storage.setItemRaw(segmentKey!, flipped);
    // No check value yet: the key is not proven, so the segment is left where it is.
    expect(
      (await failure(new EventStore({ storage, codec: k1 }).record("t", "m", [ev("e2", "s")]))).code,
    ).toBe("data_loss");
    expect(await storage.hasItem(segmentKey!)).toBe(true);
    // A wrong key under the same id is refused at start and never reaches a segment.
    await checkEncryptionKeys(storage, k1);
    const wrong = await aesGcmCodec(new Map([["k1", key(2)]]), "k1");
    await expect(checkEncryptionKeys(storage, wrong)).rejects.toThrow("is not the key");
    // Proven: the damaged segment is moved aside, the error says so, and the next write of its day lands.
    const proven = new EventStore({ storage, codec: k1 });
    const error = await failure(proven.record("t", "m", [ev("e2", "s")]));
    expect(error.code).toBe("data_loss");
    expect(error.message).toContain("quarantined");
    expect(await storage.hasItem(segmentKey!)).toBe(false);
    expect(await storage.hasItem(`${segmentKey!}.quarantined`)).toBe(true);
    expect(await proven.record("t", "m", [ev("e2", "s")])).toEqual({ accepted: 1, duplicates: 0 });
  });
});

describe("checkEncryptionKeys", () => {
  it("leaves a sealed check value per key, and refuses a configured key that cannot open its own", async () => {
    const storage = createStorage({ driver: memoryDriver() });
    const k1 = await aesGcmCodec(new Map([["k1", key(1)]]), "k1");
    await checkEncryptionKeys(storage, k1);
    await checkEncryptionKeys(storage, k1);
    expect(await storage.getKeys("sys:enckeys")).toEqual(["sys:enckeys:k1"]);
    const rotated = await aesGcmCodec(
      new Map([
        ["k1", key(1)],
        ["k2", key(2)],
      ]),
      "k2",
    );
    await checkEncryptionKeys(storage, rotated);
    expect(await storage.getKeys("sys:enckeys")).toEqual(["sys:enckeys:k1", "sys:enckeys:k2"]);
    const wrong = await aesGcmCodec(new Map([["k1", key(9)]]), "k1");
    await expect(checkEncryptionKeys(storage, wrong)).rejects.toThrow(
      'encryption key "k1" is not the key this store\'s segments were sealed with',
    );
    // A store without encryption configured does not look.
    await checkEncryptionKeys(storage, PLAIN_CODEC);
  });
});
