/**
 * An in-memory driver with the filesystem driver's semantics, so that code tested against it behaves the
 * same on disk: the same key rules and errors, bytes copied in and out (unstorage's `memory` driver hands
 * out the stored object, which a caller can then mutate), listings by whole segments, and no key that is
 * both a value and a prefix of other keys.
 *
 * @module
 */
import { defineDriver } from "unstorage";
import { sliceRanges } from "./ranges.ts";
import { checkBase, checkKey, createError, toBytes } from "./utils.ts";

/** The name in error messages: `[unstorage] [tally-memory] …`. */
export const DRIVER_NAME = "tally-memory";

/** `a:b:c` → `["a", "a:b"]`: the keys that would be directories on a filesystem. */
function parentsOf(segments: string[]): string[] {
  return segments.slice(1).map((_, i) => segments.slice(0, i + 1).join(":"));
}

/** Creates an empty store; each call is independent. */
export const memoryDriver = defineDriver<void>(() => {
  const values = new Map<string, Uint8Array>();
  // How many values lie below each prefix, so that "is this key a directory?" needs no scan.
  const below = new Map<string, number>();
  // ignoreBOM keeps a leading BOM, as `readFile(path, "utf8")` does in the filesystem driver.
  const decoder = new TextDecoder("utf-8", { ignoreBOM: true });

  const write = (key: string, bytes: Uint8Array) => {
    const parents = parentsOf(checkKey(DRIVER_NAME, key));
    if (below.has(key)) {
      throw createError(DRIVER_NAME, `Cannot write key ${JSON.stringify(key)}: other keys lie below it`);
    }
    if (parents.some((parent) => values.has(parent))) {
      throw createError(DRIVER_NAME, `Cannot write key ${JSON.stringify(key)}: a key above it holds a value`);
    }
    if (!values.has(key)) for (const parent of parents) below.set(parent, (below.get(parent) ?? 0) + 1);
    // A copy, never the caller's buffer (nor a Buffer view sharing its pool).
    values.set(key, new Uint8Array(bytes));
  };

  const remove = (key: string) => {
    if (!values.delete(key)) return;
    for (const parent of parentsOf(key.split(":"))) {
      const count = (below.get(parent) ?? 1) - 1;
      if (count === 0) below.delete(parent);
      else below.set(parent, count);
    }
  };

  const keysUnder = (base: string | undefined) => {
    const segments = checkBase(DRIVER_NAME, base);
    const prefix = segments.map((segment) => `${segment}:`).join("");
    return [...values.keys()].filter((key) => key.startsWith(prefix)).sort();
  };

  // Methods are async so that an invalid key rejects, as with every other driver, instead of throwing.
  return {
    name: DRIVER_NAME,
    async hasItem(key: string) {
      checkKey(DRIVER_NAME, key);
      return values.has(key);
    },
    async getItem(key: string) {
      checkKey(DRIVER_NAME, key);
      const bytes = values.get(key);
      return bytes === undefined ? null : decoder.decode(bytes);
    },
    async getItemRaw(key: string) {
      checkKey(DRIVER_NAME, key);
      const bytes = values.get(key);
      return bytes === undefined ? null : new Uint8Array(bytes);
    },
    /** Partial reads (ranges.ts). */
    async getItemRanges(key: string, ranges: readonly (readonly [number, number])[]) {
      checkKey(DRIVER_NAME, key);
      const bytes = values.get(key);
      return bytes === undefined ? null : sliceRanges(bytes, ranges);
    },
    async setItem(key: string, value: string) {
      write(key, toBytes(DRIVER_NAME, value));
    },
    async setItemRaw(key: string, value: unknown) {
      write(key, toBytes(DRIVER_NAME, value));
    },
    async removeItem(key: string) {
      checkKey(DRIVER_NAME, key);
      remove(key);
    },
    /** One level of the key tree (prefixes.ts), from the counts of keys below each prefix. */
    async getChildPrefixes(base: string) {
      const segments = checkBase(DRIVER_NAME, base);
      const prefix = segments.map((segment) => `${segment}:`).join("");
      const children = new Set<string>();
      for (const parent of below.keys()) {
        if (!parent.startsWith(prefix)) continue;
        const rest = parent.slice(prefix.length);
        if (rest.length > 0 && !rest.includes(":")) children.add(rest);
      }
      return [...children].sort();
    },
    /** The keys below each child of `base` (prefixes.ts). */
    async getKeysByChild(base: string) {
      const prefix = checkBase(DRIVER_NAME, base)
        .map((segment) => `${segment}:`)
        .join("");
      const groups = new Map<string, string[]>();
      for (const key of keysUnder(base)) {
        const rest = key.slice(prefix.length);
        const cut = rest.indexOf(":");
        if (cut < 0) continue;
        const child = rest.slice(0, cut);
        const group = groups.get(child);
        if (group) group.push(rest.slice(cut + 1));
        else groups.set(child, [rest.slice(cut + 1)]);
      }
      return [...groups].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    },
    async getKeys(base: string | undefined) {
      return keysUnder(base);
    },
    async clear(base: string | undefined) {
      for (const key of keysUnder(base)) remove(key);
    },
    async dispose() {
      values.clear();
      below.clear();
    },
  };
});
