/**
 * A wrong encryption key must fail at start, clearly, not as a store full of "damaged" segments: each key
 * that has sealed segments leaves a small sealed value, `sys:enckeys:<id>`. At start every configured key
 * that has one must open it; a key that cannot is not the key the store was written with, and the server
 * refuses to start. (At read time, a segment that a verified key cannot open was altered: `data_loss`.)
 */
import type { Storage } from "unstorage";
import type { SegmentCodec } from "./encryption.ts";
import { ENCRYPTION_CHECKS_PREFIX } from "./keys.ts";

const CANARY = "tally encryption key check v1";

export async function checkEncryptionKeys(storage: Storage, codec: SegmentCodec): Promise<void> {
  for (const id of codec.keyIds) {
    const key = `${ENCRYPTION_CHECKS_PREFIX}:${id}`;
    const raw = await storage.getItemRaw(key);
    if (raw === null || raw === undefined) continue;
    const sealed = raw instanceof Uint8Array ? raw : new Uint8Array(raw as ArrayBuffer);
    let opened = "";
    try {
      opened = new TextDecoder().decode(await codec.open(key, sealed));
    } catch {
      // Reported below.
    }
    if (opened !== CANARY)
      throw new Error(
        `[tally] encryption key "${id}" is not the key this store's segments were sealed with (${key} does not open); check the configured key`,
      );
  }
  if (codec.current === undefined) return;
  const current = `${ENCRYPTION_CHECKS_PREFIX}:${codec.current}`;
  if (!(await storage.hasItem(current)))
    await storage.setItemRaw(current, await codec.seal(current, new TextEncoder().encode(CANARY)));
}

/**
 * Whether key `id` is proven right for this store: its check value is there and `codec` opens it. Only
 * then may a segment that does not open under `id` be called damaged (and quarantined).
 */
export async function keyVerified(storage: Storage, codec: SegmentCodec, id: string): Promise<boolean> {
  const key = `${ENCRYPTION_CHECKS_PREFIX}:${id}`;
  try {
    const raw = await storage.getItemRaw(key);
    if (raw === null || raw === undefined) return false;
    const sealed = raw instanceof Uint8Array ? raw : new Uint8Array(raw as ArrayBuffer);
    return new TextDecoder().decode(await codec.open(key, sealed)) === CANARY;
  } catch {
    return false;
  }
}
