/**
 * A filesystem driver whose writes are atomic and durable, unlike unstorage's `fs` and `fs-lite`, which
 * rewrite files in place: there a reader can see half a file, two writers can interleave, and a crash or a
 * full disk can destroy the old value. Here a value is written to a temp file beside its target, fsynced,
 * renamed over the target, and the directory is fsynced, so every reader sees one whole value.
 *
 * Key `a:b:c` lives at `<base>/a/b/c`. A key cannot both hold a value and be a prefix of other keys (a path
 * cannot be a file and a directory); such writes throw.
 *
 * @module
 */

import { close as closeCb, type Dirent, open as openCb, read as readCb, readdir as readdirCb } from "node:fs";
import { lstat, mkdir, open, readFile, rename, rm, rmdir, stat, unlink } from "node:fs/promises";
import { dirname, join, resolve, sep } from "node:path";
import { defineDriver } from "unstorage";
import type { ItemRanges } from "./ranges.ts";
import { checkBase, checkKey, createError, isSegment, toBytes } from "./utils.ts";

/** The name in error messages: `[unstorage] [tally-fs] …`. */
export const DRIVER_NAME = "tally-fs";

/**
 * Every temp file starts with this, so that listings skip it and a sweep can find what crashes left. The
 * writer's pid follows (`.tmp-<pid>-<uuid>`), so that a sweep can tell a dead writer's leftovers at once.
 */
export const TEMP_PREFIX = ".tmp-";

/** Whether the process `pid` of this host is alive (EPERM: alive, but another user's). */
function alive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return codeOf(error) === "EPERM";
  }
}

/** The pid in a temp file's name, if it has one (names from before pids were added have none). */
function writerOf(name: string): number | undefined {
  const match = /^\.tmp-(\d+)-/.exec(name);
  return match ? Number(match[1]) : undefined;
}

const DEFAULT_TEMP_MAX_AGE_MS = 10 * 60_000;
const DEFAULT_SWEEP_AFTER_READ_MS = 5_000;

/** Errors that mean "no value at this key" when reading. */
const ABSENT = new Set(["ENOENT", "ENOTDIR", "EISDIR"]);

/** Errors of a write whose path is taken by another key, as a reason a caller can act on. */
const CONFLICTS = new Map([
  ["EISDIR", "other keys lie below it"],
  ["ENOTDIR", "a key above it holds a value"],
  ["EEXIST", "a key above it holds a value"],
]);

export interface FsAtomicOptions {
  /** The directory holding the store; created on first write. */
  base: string;
  /**
   * Temp files older than this are a crashed writer's leftovers and are removed once, on the driver's
   * first write (or `sweepAfterReadMs` after its first read). Younger ones may belong to another process
   * still writing.
   * @default 600000 (10 minutes)
   */
  tempMaxAgeMs?: number;
  /**
   * A driver whose first operation is a read or a listing sweeps this much later: reads never see temp
   * files, and a cold process's first query should not share the event loop and the file-system threads
   * with a walk of the whole tree. A write sweeps at once (and waits for it).
   * @default 5000
   */
  sweepAfterReadMs?: number;
}

function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

async function orNull<T>(read: Promise<T>): Promise<T | null> {
  try {
    return await read;
  } catch (error) {
    if (ABSENT.has(codeOf(error) ?? "")) return null;
    throw error;
  }
}

/** Removes a file; false when there was none. */
async function tryUnlink(path: string): Promise<boolean> {
  return (await orNull(unlink(path).then(() => true))) ?? false;
}

/**
 * A directory's entries, none when it is absent. The callback API, not fs/promises: a query over months
 * reads one directory per day, and a promise-based request costs about twice as much per call.
 */
function listDir(dir: string): Promise<Dirent[]> {
  return new Promise((done, fail) =>
    readdirCb(dir, { withFileTypes: true }, (error, entries) => {
      if (!error) done(entries);
      else if (ABSENT.has(codeOf(error) ?? "")) done([]);
      else fail(error);
    }),
  );
}

/**
 * Deletes temp files under `base` left behind by writers that crashed between creating and renaming them:
 * those whose writer (the pid in the name) is no longer running, and any older than `maxAgeMs`. Young
 * ones of a live writer are kept: that process may be writing them right now. (A store shared by several
 * hosts sees other hosts' pids; a pid that looks dead there only costs that writer one failed write,
 * which it reports — nothing acknowledged is lost.) Returns how many files were removed.
 *
 * One directory and one file at a time: it is housekeeping, started by a process's first storage call, and
 * must not take libuv's few file-system threads from the reads that call (a cold query) is waiting for.
 */
export async function cleanupTempFiles(base: string, maxAgeMs: number): Promise<number> {
  const cutoff = Date.now() - maxAgeMs;
  let removed = 0;
  const sweep = async (dir: string): Promise<void> => {
    for (const entry of await listDir(dir)) {
      const path = join(dir, entry.name);
      if (entry.isDirectory() && isSegment(entry.name)) {
        await sweep(path);
        continue;
      }
      if (!entry.isFile() || !entry.name.startsWith(TEMP_PREFIX)) continue;
      // Its writer may rename it away between the listing and now: that is a success, not an error.
      const info = await orNull(lstat(path));
      const writer = writerOf(entry.name);
      const orphan = writer !== undefined && !alive(writer);
      if (info === null || (info.mtimeMs >= cutoff && !orphan)) continue;
      if (await tryUnlink(path)) removed++;
    }
  };
  await sweep(resolve(base));
  return removed;
}

/**
 * A buffer of its own (aligned, not in a shared pool) that is not zero-filled first: every byte handed out
 * is read from the file, and a cold query reads many MB.
 */
function unfilled(length: number): Uint8Array {
  return new Uint8Array(Buffer.allocUnsafeSlow(length).buffer, 0, length);
}

/**
 * A whole file in one read into a buffer of its size (readFile grows a buffer chunk by chunk and, for a
 * Buffer, may hand out a view into a shared pool that the store then copies to align).
 */
async function readWhole(file: string): Promise<Uint8Array> {
  const handle = await open(file, "r");
  try {
    const { size } = await handle.stat();
    const buffer = unfilled(size);
    let got = 0;
    while (got < size) {
      const { bytesRead } = await handle.read(buffer, got, size - got, got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    // A file that grew since the stat is not one of ours (values are replaced by rename, never extended).
    return got === size ? buffer : buffer.subarray(0, got);
  } finally {
    await handle.close();
  }
}

/**
 * Reads `ranges` of a file. The callback API, not FileHandle: a cold query makes hundreds of these small
 * reads, and each FileHandle costs an object with a GC finaliser plus a stat. The size is known only
 * when a read reaches the end.
 */
function readRanges(file: string, ranges: readonly (readonly [number, number])[]): Promise<ItemRanges> {
  return new Promise((done, fail) => {
    openCb(file, "r", (openError, fd) => {
      if (openError) return fail(openError);
      const parts: Uint8Array[] = new Array(ranges.length);
      let size: number | undefined;
      let pending = ranges.length;
      let failure: unknown;
      const finish = () =>
        closeCb(fd, (closeError) => {
          if (failure || closeError) fail(failure ?? closeError);
          else done({ size, parts });
        });
      if (pending === 0) return finish();
      ranges.forEach(([offset, length], i) => {
        const buffer = unfilled(length);
        let got = 0;
        const step = () =>
          readCb(fd, buffer, got, length - got, offset + got, (readError, bytesRead) => {
            if (readError) failure ??= readError;
            else {
              got += bytesRead;
              if (bytesRead > 0 && got < length) return step();
              if (got < length && (got > 0 || offset === 0)) size = offset + got;
            }
            parts[i] = got === length ? buffer : buffer.subarray(0, got);
            if (--pending === 0) finish();
          });
        if (length === 0) {
          parts[i] = buffer;
          if (--pending === 0) finish();
        } else step();
      });
    });
  });
}

async function openTemp(dir: string, temp: string) {
  // The directory usually exists (a partition takes many writes): make it only when the open says it
  // does not. removeItem prunes empty directories, so `dir` can vanish between mkdir and open: try again.
  for (let attempt = 0; ; attempt++) {
    try {
      return await open(temp, "wx");
    } catch (error) {
      if (codeOf(error) !== "ENOENT" || attempt >= 5) throw error;
    }
    const created = await mkdir(dir, { recursive: true });
    // A new directory's entry must survive a power cut as the file's will: sync each new one's parent.
    if (created !== undefined)
      for (let d = dir; ; d = dirname(d)) {
        await syncDir(dirname(d));
        if (d === created || dirname(d) === d) break;
      }
  }
}

async function syncDir(dir: string): Promise<void> {
  // Without this the rename itself may not survive a power cut.
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } catch (error) {
    // Some platforms and filesystems refuse fsync on a directory; the rename is then as durable as it gets.
    if (codeOf(error) !== "EISDIR" && codeOf(error) !== "EINVAL") throw error;
  } finally {
    await handle.close();
  }
}

/**
 * Group commit of directory fsyncs: a writer needs an fsync of its directory that starts after its rename.
 * While one runs, writers arriving meanwhile share the next one, so concurrent writes into one directory
 * cost about one directory fsync per round instead of one each. A failed fsync fails everyone sharing it.
 */
const dirSyncs = new Map<string, { running: Promise<void>; queued: Promise<void> | undefined }>();

function syncDirShared(dir: string): Promise<void> {
  const state = dirSyncs.get(dir);
  const start = (s: { running: Promise<void>; queued: Promise<void> | undefined }) => {
    s.running = syncDir(dir);
    s.running
      .finally(() => {
        if (dirSyncs.get(dir) === s && s.queued === undefined) dirSyncs.delete(dir);
      })
      .catch(() => {});
    return s.running;
  };
  if (!state) {
    const s = { running: Promise.resolve(), queued: undefined };
    dirSyncs.set(dir, s);
    return start(s);
  }
  state.queued ??= state.running
    .catch(() => {})
    .then(() => {
      state.queued = undefined;
      return start(state);
    });
  return state.queued;
}

async function writeAtomic(file: string, data: Uint8Array): Promise<void> {
  const dir = dirname(file);
  const temp = join(dir, `${TEMP_PREFIX}${process.pid}-${crypto.randomUUID()}`);
  const handle = await openTemp(dir, temp);
  try {
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, file);
  } catch (error) {
    // Never leave half a value behind (ENOSPC, EIO, a directory in the way...). A failure to remove the
    // temp file would hide the error that matters; the startup sweep gets it later.
    await rm(temp, { force: true }).catch(() => {});
    throw error;
  }
  await syncDirShared(dir);
}

/** Creates the driver. Throws at once when `base` is missing, not at the first write. */
export const fsAtomicDriver = defineDriver((options: FsAtomicOptions) => {
  if (!options?.base) throw createError(DRIVER_NAME, "Missing required option `base`.");
  const maxAge = options.tempMaxAgeMs ?? DEFAULT_TEMP_MAX_AGE_MS;
  if (!Number.isFinite(maxAge) || maxAge < 0) {
    throw createError(DRIVER_NAME, `Option \`tempMaxAgeMs\` must be a number >= 0, got ${maxAge}`);
  }
  const root = resolve(options.base);
  const pathOf = (segments: string[]) => join(root, ...segments);
  const fileOf = (key: string) => pathOf(checkKey(DRIVER_NAME, key));

  const ignore = () => {};
  let swept: Promise<void> | undefined;
  // Housekeeping must never fail a caller's read or write: on error the next process start sweeps again.
  const ready = () => {
    if (pending) clearTimeout(pending);
    pending = undefined;
    swept ??= cleanupTempFiles(root, maxAge).then(ignore, ignore);
    return swept;
  };
  let pending: ReturnType<typeof setTimeout> | undefined;
  const soon = () => {
    if (swept || pending) return;
    pending = setTimeout(ready, options.sweepAfterReadMs ?? DEFAULT_SWEEP_AFTER_READ_MS);
    // Housekeeping alone must not keep a process alive.
    pending.unref?.();
  };

  const prune = async (dir: string) => {
    // Empty directories left by removals would make their key unwritable (a path cannot be both). The
    // first directory that is not empty (or already gone) ends the climb.
    for (let d = dir; d.startsWith(root + sep); d = dirname(d)) {
      try {
        await rmdir(d);
      } catch {
        return;
      }
    }
  };

  const write = async (key: string, data: Uint8Array) => {
    const file = fileOf(key);
    await ready();
    try {
      await writeAtomic(file, data);
    } catch (error) {
      const conflict = CONFLICTS.get(codeOf(error) ?? "");
      if (conflict)
        throw createError(DRIVER_NAME, `Cannot write key ${JSON.stringify(key)}: ${conflict}`, error);
      throw error;
    }
  };

  const walk = async (dir: string, prefix: string, out: string[]): Promise<void> => {
    const deeper: Promise<void>[] = [];
    for (const entry of await listDir(dir)) {
      // Temp and other dot-files, and names no key can have, are not keys. Symlinks are not followed,
      // so a listing cannot loop or leave the base. (A checked name needs no path.join: no separator,
      // no dot segment.)
      if (!isSegment(entry.name)) continue;
      if (entry.isDirectory()) deeper.push(walk(`${dir}${sep}${entry.name}`, `${prefix}${entry.name}:`, out));
      else if (entry.isFile()) out.push(prefix + entry.name);
    }
    if (deeper.length > 0) await Promise.all(deeper);
  };

  return {
    name: DRIVER_NAME,
    options,
    async hasItem(key: string) {
      const file = fileOf(key);
      await ready();
      return (await orNull(stat(file)))?.isFile() ?? false;
    },
    async getItem(key: string) {
      const file = fileOf(key);
      await ready();
      return orNull(readFile(file, "utf8"));
    },
    async getItemRaw(key: string) {
      const file = fileOf(key);
      // Reads only schedule the start-up sweep of crashed writers' temp files (listings skip them): a
      // cold process's first query should not pay for a walk of the whole tree.
      soon();
      return orNull(readWhole(file));
    },
    /** A call's ranges are read on the thread pool side by side: a megabyte run goes faster in parts. */
    splitRangesAt: 1 << 20,
    /** Partial reads (ranges.ts): one open, the ranges read in parallel into buffers of their own. */
    async getItemRanges(
      key: string,
      ranges: readonly (readonly [number, number])[],
    ): Promise<ItemRanges | null> {
      const file = fileOf(key);
      soon();
      return orNull(readRanges(file, ranges));
    },
    async setItem(key: string, value: string) {
      await write(key, toBytes(DRIVER_NAME, value));
    },
    async setItemRaw(key: string, value: unknown) {
      await write(key, toBytes(DRIVER_NAME, value));
    },
    async removeItem(key: string) {
      const file = fileOf(key);
      await ready();
      if (await tryUnlink(file)) await prune(dirname(file));
    },
    /** One level of the key tree (prefixes.ts): the directories directly below `base`. */
    async getChildPrefixes(base: string) {
      const segments = checkBase(DRIVER_NAME, base);
      soon();
      const entries = await listDir(pathOf(segments));
      return entries
        .filter((entry) => entry.isDirectory() && isSegment(entry.name))
        .map((entry) => entry.name)
        .sort();
    },
    /** The keys below each child directory of `base` (prefixes.ts): those directories read in parallel. */
    async getKeysByChild(base: string) {
      const segments = checkBase(DRIVER_NAME, base);
      soon();
      const dir = pathOf(segments);
      const children = (await listDir(dir)).filter((entry) => entry.isDirectory() && isSegment(entry.name));
      const groups = await Promise.all(
        children.map(async (child): Promise<[string, string[]]> => {
          const keys: string[] = [];
          await walk(`${dir}${sep}${child.name}`, "", keys);
          return [child.name, keys.sort()];
        }),
      );
      return groups.filter(([, keys]) => keys.length > 0).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    },
    async getKeys(base: string | undefined) {
      const segments = checkBase(DRIVER_NAME, base);
      soon();
      const keys: string[] = [];
      await walk(pathOf(segments), segments.map((s) => `${s}:`).join(""), keys);
      return keys.sort();
    },
    async clear(base: string | undefined) {
      const segments = checkBase(DRIVER_NAME, base);
      await ready();
      const dir = pathOf(segments);
      if (segments.length > 0) {
        // A value at the base itself is not "under" the base, so only a directory is removed.
        if ((await orNull(stat(dir)))?.isDirectory()) await rm(dir, { recursive: true, force: true });
        return prune(dirname(dir));
      }
      // At the root, leave files that are not keys (a lock file, a .gitkeep) to their owners.
      const entries = (await listDir(dir)).filter((entry) => isSegment(entry.name));
      await Promise.all(entries.map((entry) => rm(join(dir, entry.name), { recursive: true, force: true })));
    },
    async dispose() {
      // Let a sweep in flight finish rather than outlive the driver; one not started yet never starts.
      if (pending) clearTimeout(pending);
      pending = undefined;
      await swept;
    },
  };
});
