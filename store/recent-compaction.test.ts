/**
 * Housekeeping finds tenants, modules and days by one-level listings: a scheduled run (a Worker's cron)
 * costs listings in proportion to tenants × modules × recent days, not to every segment the store holds —
 * on R2, 1,000 keys per list call and a cap on subrequests per invocation.
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createStorage, type Driver } from "unstorage";
import { describe, expect, it } from "vitest";
import { fsAtomicDriver } from "../storage-drivers/fs-atomic.ts";
import { memoryDriver } from "../storage-drivers/memory.ts";
import { EventStore } from "./event-store.ts";
import type { StoredEvent } from "./json.ts";
import { compactRecent } from "./recent-compaction.ts";
import { applyRetention, listModules, listTenants } from "./retention.ts";

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 10, 30, 12);
/** The stores' clock: from NOW on, whatever the date the tests run (retention counts back from it). */
let clock = NOW;
const now = () => (clock += 0.5);

const batch = (day: number, n: number, tag: string): StoredEvent[] =>
  Array.from({ length: n }, (_, i) => ({
    id: `${tag}-${day}-${i}`,
    type: "joined",
    time: NOW - day * DAY + i * 1000,
    data: { org: "o" },
    lat: Number.NaN,
    lon: Number.NaN,
  }));

/** A memory driver that records every listing's base, with or without its one-level listing. */
function recordingDriver(oneLevel: boolean) {
  const inner = memoryDriver() as Driver & { getChildPrefixes?: unknown; getKeysByChild?: unknown };
  const listed: string[] = [];
  const driver: Driver = {
    ...inner,
    getKeys: (base, opts) => {
      listed.push(base);
      return inner.getKeys(base, opts);
    },
  };
  if (!oneLevel) {
    delete (driver as { getChildPrefixes?: unknown }).getChildPrefixes;
    delete (driver as { getKeysByChild?: unknown }).getKeysByChild;
  }
  return { driver, listed };
}

async function filled(oneLevel: boolean) {
  const { driver, listed } = recordingDriver(oneLevel);
  const store = new EventStore({
    storage: createStorage({ driver }),
    now,
    retentionDays: (module) => (module === "mod-disco" ? 30 : undefined),
  });
  for (const tenant of ["acme", "beta"]) {
    for (const module of ["mod-disco", "sys-account"]) {
      // Old days (one segment each) and today and yesterday (three per-batch segments each).
      for (const day of [0, 1])
        for (const b of [0, 1, 2]) await store.record(tenant, module, batch(day, 5, `b${b}`));
      for (let day = 5; day < 60; day += 5) await store.record(tenant, module, batch(day, 3, "old"));
    }
  }
  listed.length = 0;
  return { store, listed };
}

describe("housekeeping listings", () => {
  for (const oneLevel of [true, false]) {
    it(`compact recent partitions and apply retention ${oneLevel ? "one level at a time" : "from full listings (a driver without one-level listing)"}`, async () => {
      const { store, listed } = await filled(oneLevel);
      expect(await listTenants(store)).toEqual(["acme", "beta"]);
      expect(await listModules(store, "acme")).toEqual(["mod-disco", "sys-account"]);
      const result = await compactRecent(store, await listTenants(store), NOW);
      expect(result).toEqual({ partitions: 8, segmentsBefore: 24, segmentsAfter: 8, failed: [] });
      // Retention (30 days) deletes mod-disco's days 35..55 of each tenant: 5 days × 2 tenants.
      expect(await applyRetention(store, ["mod-disco", "sys-account"])).toBe(10);
      expect(await store.days("acme", "mod-disco")).toHaveLength(2 + 6);
      expect(await store.days("beta", "sys-account")).toHaveLength(2 + 11);
      // Above a day (tombstones aside), nothing was listed key by key — unless the driver cannot list one level.
      const wide = listed.filter((base) => base.split(":").length < 5 || !/:ev:\d{8}/.test(base));
      if (oneLevel) expect(wide.filter((base) => !base.startsWith("sys:"))).toEqual([]);
      else expect(wide.length).toBeGreaterThan(0);
    });
  }

  it("leave an expired day's empty directory alone (no tombstone for nothing)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tally-retention-"));
    try {
      const store = new EventStore({
        storage: createStorage({ driver: fsAtomicDriver({ base: dir }) }),
        now,
        retentionDays: () => 30,
      });
      await store.record("acme", "mod-disco", batch(0, 3, "now"));
      // What a crash between removing a day's last segment and its directory leaves.
      mkdirSync(join(dir, "v1", "acme", "mod-disco", "ev", "20200101"), { recursive: true });
      for (let run = 0; run < 2; run++) expect(await applyRetention(store, ["mod-disco"])).toBe(0);
      expect(await store.storage.getKeys("sys:tombstones")).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
