/**
 * The one contract every Tally storage driver passes, in the manner of unstorage's `testDriver`: a new
 * driver is a factory plus one `testDriver(...)` call. It checks what the event store relies on and what
 * unstorage's own drivers get wrong (see shared STACK.md): exact bytes, whole values under concurrency,
 * listings by whole segments and in full, and keys refused by the driver itself.
 *
 * @module
 */
import { createStorage, type Driver, type Storage } from "unstorage";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { bytesOf, expectBytes, inPool, KiB, whichOf } from "./contract-bytes.ts";

export interface DriverContractOptions {
  /** Shown in the suite title. */
  name: string;
  /** Makes a fresh, empty driver; `cleanup` runs after the suite (e.g. removes a temp directory). */
  create: () => Promise<{ driver: Driver; cleanup?: () => Promise<void> }>;
  /** Titles of contract tests this driver cannot pass, skipped rather than deleted so the gap stays visible. */
  skip?: string[];
  /** Driver-specific tests, run in the same suite against the same storage (cleared after each test). */
  additionalTests?: (ctx: () => Storage) => void;
}

const BAD_KEYS = [
  "..",
  ".",
  "a:..",
  "a:.:b",
  "x".repeat(201),
  `a:${"y".repeat(201)}`,
  "a?b",
  "a$",
  "a::b",
  ":a",
  "a:",
  "",
  "a/b",
  "a\\b",
  ".hidden",
  "a b",
  "é",
];

/** Registers the contract suite for one driver. */
export function testDriver(opts: DriverContractOptions): void {
  describe(`storage driver contract: ${opts.name}`, () => {
    let driver: Driver;
    let storage: Storage;
    let cleanup: (() => Promise<void>) | undefined;
    const test = (title: string, fn: () => Promise<void>, timeout?: number) =>
      it.skipIf(opts.skip?.includes(title))(title, fn, timeout);

    beforeAll(async () => {
      ({ driver, cleanup } = await opts.create());
      storage = createStorage({ driver });
    });
    afterAll(async () => {
      await storage?.dispose();
      await cleanup?.();
    });
    afterEach(async () => {
      await storage.clear();
    });

    test("raw bytes round-trip exactly, as Uint8Array", async () => {
      const allBytes = Uint8Array.from({ length: 256 }, (_, i) => i);
      const cases = { empty: new Uint8Array(0), all: allBytes, big: bytesOf(1024 * KiB, 1) };
      for (const [name, bytes] of Object.entries(cases)) await storage.setItemRaw(`raw:${name}`, bytes);
      for (const [name, bytes] of Object.entries(cases))
        expectBytes(await storage.getItemRaw(`raw:${name}`), bytes);
    });

    test("raw values are copied in and out", async () => {
      const input = Uint8Array.of(1, 2, 3);
      await storage.setItemRaw("copy:k", input);
      input[0] = 9;
      const first = (await storage.getItemRaw("copy:k")) as Uint8Array;
      first[1] = 9;
      expectBytes(await storage.getItemRaw("copy:k"), Uint8Array.of(1, 2, 3));
    });

    test("raw accepts ArrayBuffer, views and strings", async () => {
      const backing = Uint8Array.of(0, 1, 2, 3, 4, 5);
      await storage.setItemRaw("in:buffer", backing.buffer);
      await storage.setItemRaw("in:view", backing.subarray(2, 4));
      await storage.setItemRaw("in:string", "é");
      expectBytes(await storage.getItemRaw("in:buffer"), backing);
      expectBytes(await storage.getItemRaw("in:view"), Uint8Array.of(2, 3));
      expectBytes(await storage.getItemRaw("in:string"), Uint8Array.of(0xc3, 0xa9));
    });

    test("strings round-trip", async () => {
      const text = "héllo\nwörld 🌍 \u0000 end";
      await storage.setItem("str:text", text);
      await storage.setItem("str:json", { a: [1, "two"] });
      expect(await storage.getItem("str:text")).toBe(text);
      expect(await storage.getItem("str:json")).toEqual({ a: [1, "two"] });
      expectBytes(await storage.getItemRaw("str:text"), new TextEncoder().encode(text));
      // Straight to the driver (no destr parsing): a leading BOM survives too.
      await driver.setItem?.("str:bom", "\uFEFFx", {});
      expect(await driver.getItem("str:bom", {})).toBe("\uFEFFx");
    });

    test("overwrite replaces the whole value", async () => {
      await storage.setItemRaw("ow:k", bytesOf(64 * KiB, 2));
      await storage.setItemRaw("ow:k", Uint8Array.of(7));
      expectBytes(await storage.getItemRaw("ow:k"), Uint8Array.of(7));
      await storage.setItem("ow:k", "second");
      expect(await storage.getItem("ow:k")).toBe("second");
    });

    test("hasItem, and missing keys read as null", async () => {
      expect(await storage.hasItem("has:k")).toBe(false);
      expect(await storage.getItem("has:k")).toBeNull();
      expect(await storage.getItemRaw("has:k")).toBeNull();
      await storage.setItem("has:k", "v");
      expect(await storage.hasItem("has:k")).toBe(true);
      expect(await storage.hasItem("has:k:deeper")).toBe(false);
    });

    test("removeItem", async () => {
      await storage.removeItem("rm:missing");
      await storage.setItem("rm:k", "v");
      await storage.setItem("rm:other", "v");
      await storage.removeItem("rm:k");
      expect(await storage.hasItem("rm:k")).toBe(false);
      expect(await storage.getItem("rm:k")).toBeNull();
      expect(await storage.getKeys("rm")).toEqual(["rm:other"]);
    });

    test("a key is never both a value and a prefix", async () => {
      const refused = (promise: Promise<unknown>) => expect(promise).rejects.toThrow(`[${driver.name}]`);
      await storage.setItem("pre:dir:leaf", "leaf");
      await refused(storage.setItem("pre:dir", "x"));
      expect(await storage.hasItem("pre:dir")).toBe(false);
      expect(await storage.getItem("pre:dir")).toBeNull();
      expect(await storage.getItemRaw("pre:dir")).toBeNull();
      await storage.setItem("pre:file", "old");
      await refused(storage.setItem("pre:file:below", "x"));
      expect(await storage.getItem("pre:file")).toBe("old");
      expect(await storage.getKeys("pre")).toEqual(["pre:dir:leaf", "pre:file"]);
      // Once its children are gone, the prefix is an ordinary key again.
      await storage.removeItem("pre:dir:leaf");
      await storage.setItem("pre:dir", "now a value");
      expect(await storage.getItem("pre:dir")).toBe("now a value");
    });

    test("getKeys lists exactly the keys under a whole-segment prefix", async () => {
      const keys = ["a:b:c", "a:b:d:e", "a:bc", "ab:c", "x:y"];
      for (const key of keys) await storage.setItem(key, "v");
      // Ask the driver itself too: createStorage filters by base afterwards and would hide a driver bug.
      const list = async (base: string) => [
        (await storage.getKeys(base)).sort(),
        await driver.getKeys(base, {}),
      ];
      for (const base of ["a:b", "a:b:"]) {
        for (const got of await list(base)) expect([...got].sort()).toEqual(["a:b:c", "a:b:d:e"]);
      }
      for (const got of await list("a")) expect([...got].sort()).toEqual(["a:b:c", "a:b:d:e", "a:bc"]);
      for (const got of await list("")) expect([...got].sort()).toEqual([...keys].sort());
      for (const base of ["nope", "a:bc", "a:b:c"])
        for (const got of await list(base)) expect(got).toEqual([]);
    });

    // Miniflare's R2 takes each put through its proxy: 27 s alone, 38–59 s under a loaded npm test.
    test("getKeys lists more than 2,500 keys in full", async () => {
      const keys = Array.from({ length: 2600 }, (_, i) => `many:d${i % 8}:k${i}`);
      await inPool(keys, 32, (key) => storage.setItem(key, "1"));
      expect((await driver.getKeys("many", {})).length).toBe(keys.length);
      expect(new Set(await storage.getKeys("many"))).toEqual(new Set(keys));
    }, 180_000);

    test("50 concurrent writers of distinct keys all land", async () => {
      const values = Array.from({ length: 50 }, (_, i) => bytesOf(4 * KiB, 1000 + i));
      await Promise.all(values.map((value, i) => storage.setItemRaw(`par:k${i}`, value)));
      for (const [i, value] of values.entries()) expectBytes(await storage.getItemRaw(`par:k${i}`), value);
      expect((await storage.getKeys("par")).length).toBe(50);
    });

    test("concurrent writers of one key leave exactly one whole value", async () => {
      // Over 512 KiB, so that an in-place writeFile needs several writes and interleaving can show; a few
      // rounds, because one round of a broken driver often ends with one writer's bytes by luck.
      const values = Array.from({ length: 20 }, (_, i) => bytesOf(768 * KiB, 2000 + i));
      for (let round = 0; round < 4; round++) {
        await Promise.all(values.map((value) => storage.setItemRaw("same:k", value)));
        expect(whichOf(await storage.getItemRaw("same:k"), values)).toBeGreaterThanOrEqual(0);
      }
      expect(await storage.getKeys("same")).toEqual(["same:k"]);
    });

    test("readers racing a writer see the old or the new value whole", async () => {
      const versions = Array.from({ length: 4 }, (_, i) => bytesOf(512 * KiB, 3000 + i));
      await storage.setItemRaw("race:k", versions[0]);
      let writing = true;
      const writer = (async () => {
        for (let round = 1; round <= 12; round++) await storage.setItemRaw("race:k", versions[round % 4]);
      })().finally(() => {
        writing = false;
      });
      const reader = async () => {
        let reads = 0;
        for (; writing && reads < 300; reads++) {
          expect(whichOf(await storage.getItemRaw("race:k"), versions)).toBeGreaterThanOrEqual(0);
        }
        return reads;
      };
      const reads = await Promise.all([reader(), reader(), reader()]);
      await writer;
      expect(reads.reduce((a, b) => a + b)).toBeGreaterThan(0);
    });

    test("the driver refuses invalid keys itself", async () => {
      // Straight to the driver: createStorage would normalise most of these away before it.
      const methods: Record<string, (key: string) => unknown> = {
        hasItem: (key) => driver.hasItem(key, {}),
        getItem: (key) => driver.getItem(key, {}),
        getItemRaw: (key) => driver.getItemRaw?.(key, {}),
        setItem: (key) => driver.setItem?.(key, "v", {}),
        setItemRaw: (key) => driver.setItemRaw?.(key, Uint8Array.of(1), {}),
        removeItem: (key) => driver.removeItem?.(key, {}),
      };
      for (const key of BAD_KEYS) {
        for (const [method, call] of Object.entries(methods)) {
          const error = await Promise.resolve()
            .then(() => call(key))
            .then(
              () => new Error(`${method}(${JSON.stringify(key)}) was accepted`),
              (e: unknown) => e,
            );
          expect(error).toBeInstanceOf(Error);
          expect((error as Error).message).toMatch(new RegExp(`^\\[unstorage\\] \\[${driver.name}\\] `));
          expect((error as Error).message).toContain(JSON.stringify(key));
        }
      }
      for (const base of ["..", "a:..", "a?b", "a::b", ":a"]) {
        await expect(Promise.resolve().then(() => driver.getKeys(base, {}))).rejects.toThrow(
          `[${driver.name}]`,
        );
      }
      expect(await driver.getKeys("", {})).toEqual([]);
      const longest = `ok:${"z".repeat(200)}`;
      await driver.setItem?.(longest, "fits", {});
      expect(await driver.getItem(longest, {})).toBe("fits");
    });

    test("clear(base) removes only the keys under base", async () => {
      for (const key of ["cl:a:1", "cl:a:2", "cl:ab", "cl:a0:1"]) await storage.setItem(key, "v");
      // Straight to the driver: createStorage's clear(base) only reaches mounts *below* the base, so with
      // one root mount it silently does nothing (unstorage 1.17.6).
      await driver.clear?.("cl:a", {});
      await driver.clear?.("cl:ab", {});
      expect((await storage.getKeys("cl")).sort()).toEqual(["cl:a0:1", "cl:ab"]);
    });

    opts.additionalTests?.(() => storage);
  });
}
