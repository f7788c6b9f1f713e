/**
 * Encryption at rest from the configuration: `"encryption": {"current": "k2", "keys": {"k1": "<base64>",
 * "k2": "<base64>"}}` in tally.config.json, or the environment variable TALLY_ENCRYPTION_KEYS =
 * `k2=<base64>,k1=<base64>` (the first is current), which wins — keys are secrets, and the environment is
 * where Workers (and most service managers) keep secrets. Each key is 32 random bytes in base64
 * (`openssl rand -base64 32`).
 */
import { aesGcmCodec, keyBytes, PLAIN_CODEC, type SegmentCodec } from "../store/encryption.ts";

export interface EncryptionConfig {
  current: string;
  keys: Record<string, string>;
}

export function encryptionFromEnv(text: string | undefined): EncryptionConfig | undefined {
  if (!text) return undefined;
  const keys: Record<string, string> = {};
  let current = "";
  for (const part of text.split(",")) {
    const at = part.indexOf("=");
    if (at <= 0) throw new Error("[tally] TALLY_ENCRYPTION_KEYS: expected id=<base64 key>,id2=<base64 key>");
    const id = part.slice(0, at).trim();
    keys[id] = part.slice(at + 1).trim();
    current ||= id;
  }
  return { current, keys };
}

export async function segmentCodec(config: EncryptionConfig | undefined): Promise<SegmentCodec> {
  if (!config) return PLAIN_CODEC;
  if (typeof config.current !== "string" || typeof config.keys !== "object" || config.keys === null)
    throw new Error('[tally] encryption: expected {"current": "<id>", "keys": {"<id>": "<base64>"}}');
  const keys = new Map<string, Uint8Array>();
  for (const [id, text] of Object.entries(config.keys)) {
    try {
      keys.set(id, keyBytes(text));
    } catch {
      throw new Error(
        `[tally] encryption key "${id}": not base64 (make one with \`openssl rand -base64 32\`)`,
      );
    }
  }
  return aesGcmCodec(keys, config.current);
}
