/**
 * Encryption at rest: segment bytes sealed with AES-256-GCM through WebCrypto (`crypto.subtle`, the same
 * on Node and Workers). A sealed segment names the key that sealed it, so keys can be added and the
 * current one changed while older segments stay readable with theirs:
 *
 *   "TENC" | version u8 (1) | key id length u8 (k) | 2 zero bytes | key id (k ASCII bytes) | IV (12) |
 *   ciphertext of the plain segment, then the 16-byte GCM tag
 *
 * The authenticated data is the header up to the IV plus the segment's storage key, so a sealed segment
 * copied under another key (another tenant, module or day) fails to open instead of being read there.
 * A segment that cannot be opened fails the read with a clear code — `failed_precondition` when its key is
 * not configured, `data_loss` when the configured key does not open it — never with garbage.
 */
import { TallyError } from "./errors.ts";

export interface SegmentCodec {
  /** The bytes to store for a plain segment at `key`. */
  seal(key: string, plain: Uint8Array): Promise<Uint8Array>;
  /** The plain segment from stored bytes at `key`. */
  open(key: string, stored: Uint8Array): Promise<Uint8Array>;
  /** The id of the key new segments are sealed with, or undefined when segments are stored plain. */
  readonly current: string | undefined;
  /** Every configured key id. */
  readonly keyIds: readonly string[];
}

const MAGIC = [0x54, 0x45, 0x4e, 0x43]; // "TENC"
const VERSION = 1;
const IV_BYTES = 12;
export const KEY_ID_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_-]{0,63}$/;
const encoder = new TextEncoder();

export function isSealed(bytes: Uint8Array): boolean {
  return bytes.byteLength >= 8 && MAGIC.every((b, i) => bytes[i] === b);
}

function sealedKeyId(key: string, bytes: Uint8Array): { id: string; headerEnd: number } {
  const k = bytes[5]!;
  const headerEnd = 8 + k + IV_BYTES;
  if (bytes[4] !== VERSION || k === 0 || bytes.byteLength < headerEnd + 16) {
    throw new TallyError("data_loss", `segment ${key}: corrupt encryption header`);
  }
  return { id: new TextDecoder().decode(bytes.subarray(8, 8 + k)), headerEnd };
}

/** The id of the key a sealed segment names, or undefined when its header is unreadable. */
export function sealedWith(key: string, bytes: Uint8Array): string | undefined {
  try {
    return sealedKeyId(key, bytes).id;
  } catch {
    return undefined;
  }
}

/** No encryption: segments are stored as they are; a sealed one found in the store is refused clearly. */
export const PLAIN_CODEC: SegmentCodec = {
  current: undefined,
  keyIds: [],
  async seal(_key, plain) {
    return plain;
  },
  async open(key, stored) {
    if (isSealed(stored)) {
      const { id } = sealedKeyId(key, stored);
      throw new TallyError(
        "failed_precondition",
        `segment ${key} is encrypted with key "${id}", but no encryption keys are configured`,
      );
    }
    return stored;
  },
};

/** AES-256-GCM with the given keys (id → 32 raw bytes); new segments are sealed with `current`. */
export async function aesGcmCodec(
  keys: ReadonlyMap<string, Uint8Array>,
  current: string,
): Promise<SegmentCodec> {
  const imported = new Map<string, CryptoKey>();
  for (const [id, raw] of keys) {
    if (!KEY_ID_PATTERN.test(id))
      throw new Error(`[tally] encryption key id ${JSON.stringify(id)}: use A-Z a-z 0-9 _ -`);
    if (raw.byteLength !== 32)
      throw new Error(`[tally] encryption key "${id}": needs 32 bytes (256 bits), got ${raw.byteLength}`);
    imported.set(
      id,
      await crypto.subtle.importKey("raw", new Uint8Array(raw), "AES-GCM", false, ["encrypt", "decrypt"]),
    );
  }
  const sealing = imported.get(current);
  if (!sealing) throw new Error(`[tally] encryption: the current key "${current}" is not among the keys`);
  const idBytes = encoder.encode(current);
  return {
    current,
    keyIds: [...imported.keys()],
    async seal(key, plain) {
      const headerEnd = 8 + idBytes.byteLength + IV_BYTES;
      const header = new Uint8Array(headerEnd);
      header.set(MAGIC, 0);
      header[4] = VERSION;
      header[5] = idBytes.byteLength;
      header.set(idBytes, 8);
      crypto.getRandomValues(header.subarray(8 + idBytes.byteLength));
      const iv = header.subarray(8 + idBytes.byteLength);
      const sealed = new Uint8Array(
        await crypto.subtle.encrypt(
          { name: "AES-GCM", iv, additionalData: additional(header, key) },
          sealing,
          new Uint8Array(plain),
        ),
      );
      const out = new Uint8Array(headerEnd + sealed.byteLength);
      out.set(header, 0);
      out.set(sealed, headerEnd);
      return out;
    },
    async open(key, stored) {
      // Segments written before encryption was turned on stay readable; compaction rewrites them sealed.
      if (!isSealed(stored)) return stored;
      const { id, headerEnd } = sealedKeyId(key, stored);
      const cryptoKey = imported.get(id);
      if (!cryptoKey) {
        throw new TallyError(
          "failed_precondition",
          `segment ${key} is encrypted with key "${id}", which is not configured (configured: ${[...imported.keys()].join(", ")})`,
        );
      }
      const header = stored.slice(0, headerEnd);
      try {
        return new Uint8Array(
          await crypto.subtle.decrypt(
            {
              name: "AES-GCM",
              iv: header.subarray(headerEnd - IV_BYTES),
              additionalData: additional(header, key),
            },
            cryptoKey,
            stored.slice(headerEnd),
          ),
        );
      } catch (cause) {
        throw new TallyError(
          "data_loss",
          `segment ${key} cannot be decrypted with key "${id}": the key is wrong or the segment was altered or moved`,
          { cause },
        );
      }
    },
  };
}

function additional(header: Uint8Array, key: string): Uint8Array<ArrayBuffer> {
  const name = encoder.encode(key);
  const out = new Uint8Array(header.byteLength + name.byteLength);
  out.set(header, 0);
  out.set(name, header.byteLength);
  return out;
}

/** Decodes a base64 (or base64url) key text into bytes. */
export function keyBytes(text: string): Uint8Array {
  const normal = text.trim().replace(/-/g, "+").replace(/_/g, "/");
  const binary = atob(normal);
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}
