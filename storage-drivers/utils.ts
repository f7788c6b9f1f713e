/**
 * Rules shared by every Tally driver: which keys exist, how errors read, what counts as raw bytes.
 * Runtime-neutral on purpose (no `node:*`), so that the memory driver and a Workers driver can use it.
 *
 * Drivers check keys themselves instead of trusting `createStorage`, because a driver is also called
 * directly (tests, scripts, a future mount under `prefixStorage`), and unstorage's own normalisation lets
 * `?`, `$`, empty and over-long segments through to the backend. Refusing `$` means unstorage's meta keys
 * (`key$`, behind `setMeta`, `getMeta` and `removeItem(key, { removeMeta: true })`) are refused too: Tally
 * keeps no meta, and a `$` key would be hidden from listings anyway.
 *
 * @module
 */

/**
 * One key segment: a file name on every filesystem we target, never hidden (no leading dot, which also
 * rules out `.` and `..`), and short enough that a temp-file name built from it stays under 255 bytes.
 */
export const SEGMENT_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,199}$/;

/** An error in unstorage's house format: `[unstorage] [<driver>] <message>`. */
export function createError(driver: string, message: string, cause?: unknown): Error {
  return new Error(`[unstorage] [${driver}] ${message}`, cause === undefined ? undefined : { cause });
}

/** Whether a single name (file, directory, map entry) can be a key segment. */
export function isSegment(segment: string): boolean {
  // The pattern already excludes "." and ".."; the explicit test keeps path traversal impossible even if
  // someone loosens the pattern later.
  return segment !== "." && segment !== ".." && SEGMENT_PATTERN.test(segment);
}

/**
 * Splits an item key into its segments, or throws naming the key.
 * `a::b`, a leading or trailing `:`, and the empty key are refused: each would alias another key.
 */
export function checkKey(driver: string, key: unknown): string[] {
  if (typeof key !== "string" || key === "") {
    throw createError(driver, `Invalid key: ${JSON.stringify(key)}. Keys must be non-empty strings`);
  }
  const segments = key.split(":");
  if (!segments.every(isSegment)) {
    throw createError(
      driver,
      `Invalid key: ${JSON.stringify(key)}. Each ":"-separated segment must match ${SEGMENT_PATTERN}`,
    );
  }
  return segments;
}

/**
 * Splits a `getKeys`/`clear` base into whole segments. `undefined` and `""` mean the whole store (that is
 * what `createStorage` passes for the root); one trailing `:` is allowed because `createStorage` adds it.
 */
export function checkBase(driver: string, base: string | undefined): string[] {
  if (base === undefined || base === "") return [];
  return checkKey(driver, base.endsWith(":") ? base.slice(0, -1) : base);
}

/**
 * Accepted raw values, as a Uint8Array over the caller's bytes (a view, not a copy). Strings are stored as UTF-8, the way `getItem` will
 * read them back. Other objects are refused rather than stringified into something nobody wrote.
 */
export function toBytes(driver: string, value: unknown): Uint8Array {
  if (typeof value === "string") return new TextEncoder().encode(value);
  if (value instanceof Uint8Array) return value;
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  throw createError(driver, `Unsupported raw value of type ${typeof value}: expected bytes or a string`);
}
