import { mkdir, mkdtemp, readdir, rm, stat, symlink, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, sep } from "node:path";
import { expect, it, vi } from "vitest";
import { testDriver } from "./contract.ts";
import { bytesOf, expectBytes } from "./contract-bytes.ts";
import { cleanupTempFiles, type FsAtomicOptions, fsAtomicDriver, TEMP_PREFIX } from "./fs-atomic.ts";

// A pass-through fs that records which directories are listed and can fail a temp-file write halfway,
// so that the tests can see what the driver touches and simulate a full disk.
// vi.mock is hoisted above the imports, so the mock gets its own copy of the temp-file prefix.
const hooks = vi.hoisted(() => ({
  listed: [] as string[],
  /** Paths opened read-only: directories the driver fsyncs. */
  openedToRead: [] as string[],
  failWrites: false,
  tempPrefix: ".tmp-",
}));
// The driver lists directories with node:fs's callback readdir (fs-atomic.ts, listDir).
vi.mock("node:fs", async (importOriginal) => {
  const real = await importOriginal<typeof import("node:fs")>();
  const readdir = ((path: string, ...rest: never[]) => {
    hooks.listed.push(String(path));
    return (real.readdir as (...args: unknown[]) => void)(path, ...rest);
  }) as typeof real.readdir;
  return { ...real, readdir };
});
vi.mock("node:fs/promises", async (importOriginal) => {
  const real = await importOriginal<typeof import("node:fs/promises")>();
  const open = (async (...args: Parameters<typeof real.open>) => {
    const handle = await real.open(...args);
    if (args[1] === "r") hooks.openedToRead.push(String(args[0]));
    if (hooks.failWrites && String(args[0]).includes(hooks.tempPrefix)) {
      handle.writeFile = async (data) => {
        const bytes = data as Uint8Array;
        await handle.write(bytes.subarray(0, bytes.length >> 1));
        throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
      };
    }
    return handle;
  }) as typeof real.open;
  return { ...real, open };
});

const HOUR = 3_600_000;
let base = "";

async function tempFilesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true });
  return entries.filter((path) => path.split(sep).pop()?.startsWith(TEMP_PREFIX));
}

async function touch(path: string, ageMs: number): Promise<void> {
  await writeFile(path, "partial");
  const then = new Date(Date.now() - ageMs);
  await utimes(path, then, then);
}

const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  );

testDriver({
  name: "fs-atomic",
  async create() {
    base = await mkdtemp(join(tmpdir(), "tally-fs-"));
    return { driver: fsAtomicDriver({ base }), cleanup: () => rm(base, { recursive: true, force: true }) };
  },
  additionalTests(storage) {
    it("hides temp files and other dot-files from getKeys", async () => {
      await storage().setItem("hide:k", "v");
      await touch(join(base, "hide", `${TEMP_PREFIX}abc`), 0);
      await touch(join(base, "hide", ".gitkeep"), 0);
      expect(await storage().getKeys("hide")).toEqual(["hide:k"]);
      expect(await storage().getKeys()).toEqual(["hide:k"]);
    });

    it("cleanupTempFiles removes old temp files and keeps young ones", async () => {
      await mkdir(join(base, "ct", "deep"), { recursive: true });
      await touch(join(base, "ct", `${TEMP_PREFIX}old`), HOUR);
      await touch(join(base, "ct", "deep", `${TEMP_PREFIX}old`), HOUR);
      await touch(join(base, "ct", `${TEMP_PREFIX}young`), 1000);
      await touch(join(base, "ct", ".not-a-temp"), HOUR);
      expect(await cleanupTempFiles(base, 10 * 60_000)).toBe(2);
      expect((await tempFilesUnder(join(base, "ct"))).sort()).toEqual([`${TEMP_PREFIX}young`]);
      expect(await exists(join(base, "ct", ".not-a-temp"))).toBe(true);
    });

    it("cleanupTempFiles removes a dead writer's young temp files at once, and keeps a live one's", async () => {
      const { spawnSync } = await import("node:child_process");
      const dead = spawnSync(process.execPath, ["-e", "0"]).pid!;
      await mkdir(join(base, "pid"), { recursive: true });
      await touch(join(base, "pid", `${TEMP_PREFIX}${dead}-a`), 0);
      await touch(join(base, "pid", `${TEMP_PREFIX}${process.pid}-b`), 0);
      expect(await cleanupTempFiles(base, 10 * 60_000)).toBe(1);
      expect(await tempFilesUnder(join(base, "pid"))).toEqual([`${TEMP_PREFIX}${process.pid}-b`]);
    });

    it("sweeps old temp files once, on a new driver's first operation", async () => {
      await mkdir(join(base, "sw"), { recursive: true });
      await touch(join(base, "sw", `${TEMP_PREFIX}old`), 2 * 60_000);
      await touch(join(base, "sw", `${TEMP_PREFIX}young`), 0);
      const driver = fsAtomicDriver({ base, tempMaxAgeMs: 60_000 });
      expect(await driver.hasItem("sw:k", {})).toBe(false);
      expect(await tempFilesUnder(join(base, "sw"))).toEqual([`${TEMP_PREFIX}young`]);
      await driver.dispose?.();
    });

    it("a driver whose first operations are reads sweeps later, and a write sweeps at once", async () => {
      await mkdir(join(base, "sr"), { recursive: true });
      await touch(join(base, "sr", `${TEMP_PREFIX}old`), 2 * 60_000);
      const driver = fsAtomicDriver({ base, tempMaxAgeMs: 60_000, sweepAfterReadMs: 200 });
      expect(await driver.getItemRaw!("sr:k", {})).toBe(null);
      expect(await driver.getKeys("sr", {})).toEqual([]);
      // The reads scheduled the sweep; it has not run yet.
      expect(await tempFilesUnder(join(base, "sr"))).toEqual([`${TEMP_PREFIX}old`]);
      for (let waited = 0; (await tempFilesUnder(join(base, "sr"))).length > 0 && waited < 5000; waited += 20)
        await new Promise((resolve) => setTimeout(resolve, 20));
      expect(await tempFilesUnder(join(base, "sr"))).toEqual([]);
      await driver.dispose?.();
      // A write does not wait for a scheduled sweep: it sweeps first.
      await touch(join(base, "sr", `${TEMP_PREFIX}old2`), 2 * 60_000);
      const writer = fsAtomicDriver({ base, tempMaxAgeMs: 60_000, sweepAfterReadMs: 60_000 });
      expect(await writer.getItemRaw!("sr:k", {})).toBe(null);
      await writer.setItemRaw!("sr:k", new Uint8Array([1]), {});
      expect(await tempFilesUnder(join(base, "sr"))).toEqual([]);
      await writer.dispose?.();
    });

    it("a write refused because a value is in the way leaves the old value and no temp file", async () => {
      await storage().setItem("fw", "old");
      await expect(storage().setItem("fw:child", "x")).rejects.toThrow(
        /^\[unstorage\] \[tally-fs\] .*"fw:child"/,
      );
      expect(await storage().getItem("fw")).toBe("old");
      // Here the temp file exists before the rename fails: it must be gone too.
      await storage().setItem("fd:leaf", "leaf");
      await expect(storage().setItemRaw("fd", bytesOf(64 * 1024, 1))).rejects.toThrow(
        "[unstorage] [tally-fs]",
      );
      expect(await storage().getItem("fd:leaf")).toBe("leaf");
      expect(await tempFilesUnder(base)).toEqual([]);
    });

    it("a write failing halfway (ENOSPC) leaves the old value and no temp file", async () => {
      const old = bytesOf(1000, 2);
      await storage().setItemRaw("ns:k", old);
      hooks.failWrites = true;
      try {
        await expect(storage().setItemRaw("ns:k", bytesOf(256 * 1024, 3))).rejects.toMatchObject({
          code: "ENOSPC",
        });
      } finally {
        hooks.failWrites = false;
      }
      expectBytes(await storage().getItemRaw("ns:k"), old);
      expect(await tempFilesUnder(base)).toEqual([]);
    });

    it("concurrent writers of one key leave no temp file behind", async () => {
      await Promise.all(
        Array.from({ length: 20 }, (_, i) => storage().setItemRaw("tmp:k", bytesOf(64 * 1024, i))),
      );
      expect(await tempFilesUnder(base)).toEqual([]);
    });

    it("concurrent writes into one directory (sharing its fsyncs) all land whole", async () => {
      const keys = Array.from({ length: 40 }, (_, i) => `grp:k${i}`);
      await Promise.all(keys.map((key, i) => storage().setItemRaw(key, bytesOf(8 * 1024, i))));
      for (const [i, key] of keys.entries())
        expectBytes(await storage().getItemRaw(key), bytesOf(8 * 1024, i));
      // And a write after the group, into the same directory, still completes.
      await storage().setItemRaw("grp:last", bytesOf(16, 1));
      expectBytes(await storage().getItemRaw("grp:last"), bytesOf(16, 1));
    });

    it("syncs the parents of the directories a write creates, so their entries survive a power cut", async () => {
      hooks.openedToRead = [];
      await storage().setItemRaw("new:day:seg1", bytesOf(16, 1));
      // new/ and new/day/ were made: base and new/ get their entries synced, new/day/ its file's rename.
      expect(new Set(hooks.openedToRead)).toEqual(
        new Set([base, join(base, "new"), join(base, "new", "day")]),
      );
      hooks.openedToRead = [];
      await storage().setItemRaw("new:day:seg2", bytesOf(16, 2));
      expect(hooks.openedToRead).toEqual([join(base, "new", "day")]);
    });

    it("getKeys(base) lists only inside base, without following symlinks", async () => {
      await storage().setItem("x:a:1", "v");
      await storage().setItem("x:b", "v");
      // Outside the subtree: a sibling with a symlink loop, and a link into it from inside.
      await mkdir(join(base, "side", "deep"), { recursive: true });
      await Promise.all(Array.from({ length: 200 }, (_, i) => writeFile(join(base, "side", `f${i}`), "")));
      await symlink(join(base, "side"), join(base, "side", "deep", "loop"));
      await symlink(join(base, "side"), join(base, "x", "link"));
      hooks.listed = [];
      expect(await storage().getKeys("x")).toEqual(["x:a:1", "x:b"]);
      const inside = join(base, "x");
      expect(hooks.listed.filter((dir) => dir !== inside && !dir.startsWith(inside + sep))).toEqual([]);
      expect(hooks.listed.length).toBeGreaterThan(0);
    });

    it("fails fast on bad options", () => {
      expect(() => fsAtomicDriver({} as FsAtomicOptions)).toThrow(
        "[unstorage] [tally-fs] Missing required option",
      );
      expect(() => fsAtomicDriver({ base, tempMaxAgeMs: -1 })).toThrow("[unstorage] [tally-fs]");
    });
  },
});
