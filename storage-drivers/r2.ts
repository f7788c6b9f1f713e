/**
 * An unstorage driver over a Cloudflare R2 bucket binding (Workers, or Miniflare's `getR2Bucket`).
 *
 * Unlike unstorage's `cloudflare-r2-binding`, whose `getKeys` makes one `list()` call and so silently stops
 * at 1,000 keys, listings here follow R2's cursor to the end. Raw values come back as `Uint8Array` (the
 * stock driver returns an `ArrayBuffer`). Each R2 `put` replaces an object whole, so readers and racing
 * writers always see one complete value, as the filesystem driver guarantees with its temp-file rename.
 *
 * Key `a:b:c` is object `a/b/c`, so the R2 dashboard shows Tally's key layout as folders. R2's namespace is
 * flat: unlike a filesystem, `a` and `a:b` can both hold values. The driver does not police that (it would
 * cost a listing plus a `head` per ancestor on every write, and still race); Tally's key layout never
 * makes one key a prefix of another (store/keys.ts: every segment key has the same depth).
 *
 * @module
 */
import { defineDriver } from "unstorage";
import { checkBase, checkKey, toBytes } from "./utils.ts";

/** The name in error messages: `[unstorage] [tally-r2] …`. */
export const DRIVER_NAME = "tally-r2";

/** What the driver uses of an `R2Bucket` binding (structural, so Node code needs no Workers types). */
export interface R2BucketLike {
  head(key: string): Promise<unknown | null>;
  get(
    key: string,
    options?: { range?: { offset: number; length: number } },
  ): Promise<{ arrayBuffer(): Promise<ArrayBuffer>; size: number } | null>;
  put(key: string, value: ArrayBuffer | ArrayBufferView | string): Promise<unknown>;
  delete(keys: string | string[]): Promise<void>;
  list(options?: { prefix?: string; cursor?: string; limit?: number; delimiter?: string }): Promise<{
    objects: { key: string }[];
    truncated: boolean;
    cursor?: string;
    delimitedPrefixes?: string[];
  }>;
}

export interface R2DriverOptions {
  /** The bucket binding, e.g. `env.TALLY_BUCKET`. */
  bucket: R2BucketLike;
}

/** R2 deletes at most this many keys per call. */
const DELETE_BATCH = 1000;

// Keep a leading BOM: a value reads back exactly as written.
const decoder = new TextDecoder("utf-8", { ignoreBOM: true });

export const r2Driver = defineDriver((options: R2DriverOptions) => {
  if (!options?.bucket) throw new Error(`[unstorage] [${DRIVER_NAME}] the \`bucket\` option is required`);
  const bucket = options.bucket;
  const objectKey = (key: string) => checkKey(DRIVER_NAME, key).join("/");

  async function read(key: string): Promise<Uint8Array | null> {
    const object = await bucket.get(objectKey(key));
    return object ? new Uint8Array(await object.arrayBuffer()) : null;
  }

  /** Every key under `base` (whole segments), following the listing cursor to the end. */
  async function keysUnder(base: string | undefined): Promise<string[]> {
    const segments = checkBase(DRIVER_NAME, base);
    const prefix = segments.length > 0 ? `${segments.join("/")}/` : "";
    const keys: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await bucket.list({ prefix, limit: 1000, ...(cursor ? { cursor } : {}) });
      for (const object of page.objects) keys.push(object.key.replaceAll("/", ":"));
      cursor = page.truncated ? page.cursor : undefined;
    } while (cursor);
    return keys;
  }

  return {
    name: DRIVER_NAME,
    options,
    getInstance: () => bucket,
    /** One level of the key tree (prefixes.ts): R2's delimited prefixes below `base`, every page. */
    async getChildPrefixes(base: string) {
      const segments = checkBase(DRIVER_NAME, base);
      const prefix = segments.length > 0 ? `${segments.join("/")}/` : "";
      const children = new Set<string>();
      let cursor: string | undefined;
      do {
        const page = await bucket.list({
          prefix,
          delimiter: "/",
          limit: 1000,
          ...(cursor ? { cursor } : {}),
        });
        for (const p of page.delimitedPrefixes ?? []) children.add(p.slice(prefix.length, -1));
        cursor = page.truncated ? page.cursor : undefined;
      } while (cursor);
      return [...children].sort();
    },
    async hasItem(key: string) {
      return (await bucket.head(objectKey(key))) !== null;
    },
    /**
     * Partial reads (ranges.ts), one ranged `get` per range, all at once: a lazily read segment costs its
     * header's bytes and its columns', not the whole object. A range past the end comes back clipped.
     */
    async getItemRanges(key: string, ranges: readonly (readonly [number, number])[]) {
      const name = objectKey(key);
      let size: number | undefined;
      let gone = false;
      const parts = await Promise.all(
        ranges.map(async ([offset, length]) => {
          if (length <= 0) return new Uint8Array(0);
          const object = await bucket.get(name, { range: { offset, length } });
          if (!object) {
            gone = true;
            return new Uint8Array(0);
          }
          size = object.size;
          return new Uint8Array(await object.arrayBuffer());
        }),
      );
      return gone ? null : { size, parts };
    },
    async getItem(key: string) {
      const bytes = await read(key);
      return bytes === null ? null : decoder.decode(bytes);
    },
    async getItemRaw(key: string) {
      return read(key);
    },
    async setItem(key: string, value: string) {
      await bucket.put(objectKey(key), toBytes(DRIVER_NAME, value));
    },
    async setItemRaw(key: string, value: unknown) {
      await bucket.put(objectKey(key), toBytes(DRIVER_NAME, value));
    },
    async removeItem(key: string) {
      await bucket.delete(objectKey(key));
    },
    async getKeys(base: string | undefined) {
      return keysUnder(base);
    },
    async clear(base: string | undefined) {
      const keys = (await keysUnder(base)).map((key) => key.replaceAll(":", "/"));
      for (let i = 0; i < keys.length; i += DELETE_BATCH)
        await bucket.delete(keys.slice(i, i + DELETE_BATCH));
    },
  };
});
