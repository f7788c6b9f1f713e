/**
 * The one place storage errors become Tally's codes. Whatever a driver throws — EIO, a timeout, a full disk,
 * a network store's refusal — reaches the caller as a TallyError: `resource_exhausted` when the storage is
 * full (ENOSPC, EDQUOT, EFBIG), `unavailable` otherwise (retrying may work). Never `internal`, which would
 * blame the request or the code for what the disk did.
 */
import type { Storage } from "unstorage";
import { TallyError } from "./errors.ts";

const FULL = new Set(["ENOSPC", "EDQUOT", "EFBIG"]);

export type StorageOp = "read" | "write" | "list" | "remove";

const DONE: Record<StorageOp, string> = {
  read: "nothing was read",
  write: "nothing was stored",
  list: "nothing was read",
  remove: "nothing was removed",
};

/** The errno-style code of an error or of one of its causes. */
function codeOf(error: unknown): string | undefined {
  for (let e = error, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string") return code;
  }
  return undefined;
}

/** A storage failure as a TallyError; a TallyError (already classified) passes through. */
export function storageFailure(op: StorageOp, cause: unknown): TallyError {
  if (cause instanceof TallyError) return cause;
  const code = codeOf(cause);
  if (code && FULL.has(code)) {
    return new TallyError("resource_exhausted", `storage is full (${code}); the ${op} was not done`, {
      cause,
    });
  }
  return new TallyError(
    "unavailable",
    `storage ${op} failed${code ? ` (${code})` : ""}; ${DONE[op]}, retry`,
    { cause },
  );
}

/** The storage with every call the store makes translated by `storageFailure` when it fails. */
export function guardStorage(storage: Storage): Storage {
  const guard =
    <A extends unknown[], R>(op: StorageOp, fn: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      try {
        return await fn(...args);
      } catch (cause) {
        throw storageFailure(op, cause);
      }
    };
  return Object.assign(Object.create(storage) as Storage, {
    hasItem: guard("read", storage.hasItem.bind(storage)),
    getItem: guard("read", storage.getItem.bind(storage)),
    getItemRaw: guard("read", storage.getItemRaw.bind(storage)),
    setItem: guard("write", storage.setItem.bind(storage)),
    setItemRaw: guard("write", storage.setItemRaw.bind(storage)),
    removeItem: guard("remove", storage.removeItem.bind(storage)),
    getKeys: guard("list", storage.getKeys.bind(storage)),
    clear: guard("remove", storage.clear.bind(storage)),
  });
}
