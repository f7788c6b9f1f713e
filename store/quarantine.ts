/**
 * Corrupt segments are moved aside, never skipped in silence. A segment that fails to decode (bad checksum,
 * truncated, not a segment) is copied to `<its key>.quarantined` — beside it, in the same partition, so the
 * partition's one listing finds it at no extra cost — and then removed from its own key. The read that met
 * it fails with `data_loss`; so does every later query whose range holds a quarantined segment, until an
 * operator restores the segment from a backup or deletes the `.quarantined` file (docs/storage.md).
 * Writers and compaction go on around it: refusing new events would lose more.
 */
import type { Storage } from "unstorage";
import { TallyError } from "./errors.ts";

export const QUARANTINE_SUFFIX = ".quarantined";

export function isQuarantined(key: string): boolean {
  return key.endsWith(QUARANTINE_SUFFIX);
}

/** The listed key with the suffix removed: the segment key it was quarantined from. */
export function quarantinedFrom(key: string): string {
  return key.slice(0, -QUARANTINE_SUFFIX.length);
}

/**
 * Moves the corrupt `bytes` at `key` aside and returns the `data_loss` error to throw. A failure to move
 * them leaves them where they are; the error is the same, and the next read tries again.
 */
export async function quarantine(
  storage: Storage,
  key: string,
  bytes: Uint8Array,
  problem: TallyError,
  log: (message: string) => void = console.error,
): Promise<TallyError> {
  const aside = key + QUARANTINE_SUFFIX;
  let where = `moved to ${aside}`;
  try {
    await storage.setItemRaw(aside, bytes);
    await storage.removeItem(key);
  } catch (cause) {
    where = `could not be moved aside (${cause instanceof Error ? cause.message : String(cause)})`;
  }
  log(`[tally] corrupt segment ${key}: ${problem.message}; ${where}`);
  return new TallyError(
    "data_loss",
    `a stored segment is corrupt (${problem.message}); it was ${where}, and its events are missing until it is restored`,
    { cause: problem },
  );
}

/** The error for a partition that holds quarantined segments. */
export function quarantinedError(day: string, keys: readonly string[]): TallyError {
  return new TallyError(
    "data_loss",
    `partition ${day} holds ${keys.length} quarantined corrupt segment(s) (${keys.join(", ")}); ` +
      "its events are missing from this answer, so none is given: restore the segment or delete the " +
      ".quarantined file (docs/storage.md)",
  );
}
