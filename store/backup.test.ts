/**
 * Backups and tenant copies: a restore equals the original, a backup taken while writes and compaction go
 * on holds every event acknowledged before it started (each once), a damaged backup restores nothing, an
 * encrypted store's backup is encrypted, and a copy that crashed half-way is finished by running it again.
 */
import { createStorage, type Storage } from "unstorage";
import { describe, expect, it } from "vitest";
import { memoryDriver } from "../storage-drivers/memory.ts";
import { backupTenant, restoreBackup } from "./backup.ts";
import { compactPartition } from "./compaction.ts";
import { deleteData, resumeDeletions, TOMBSTONE_GRACE_MS } from "./deletion.ts";
import { aesGcmCodec } from "./encryption.ts";
import { TallyError } from "./errors.ts";
import { EventStore } from "./event-store.ts";
import type { StoredEvent } from "./json.ts";
import { listEvents } from "./list-events.ts";
import { copyTenant, countEvents } from "./tenant-copy.ts";

const DAY_MS = 86_400_000;
const T0 = Date.UTC(2026, 2, 1);
const ev = (id: string, day: number, minute = 0): StoredEvent => ({
  id,
  type: "x",
  time: T0 + day * DAY_MS + minute * 60_000,
  data: { id, secret: "backup-plaintext-marker" },
  lat: day,
  lon: minute % 180,
});

const memory = () => createStorage({ driver: memoryDriver() });

async function ids(store: EventStore, tenant: string, module: string): Promise<string[]> {
  const sel = { tenant, module, start: T0, end: T0 + 40 * DAY_MS, types: [], filters: [] };
  const { events } = await listEvents(
    store,
    { ...sel, asOf: Number.MAX_VALUE, order: "asc" },
    100_000,
    undefined,
  );
  return events.map((e) => e.id).sort();
}

async function seed(store: EventStore, tenant = "acme", batches = 6) {
  for (let b = 0; b < batches; b++) {
    for (const module of ["mod-disco", "sys-account"])
      await store.record(
        tenant,
        module,
        Array.from({ length: 10 }, (_, i) => ev(`${module}-${b}-${i}`, i % 3, b)),
      );
  }
}

async function collect(chunks: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const c of chunks) parts.push(c);
  return Buffer.concat(parts);
}

/** A file's bytes as a stream of small, odd-sized chunks, as a file read delivers them. */
function chunked(bytes: Uint8Array, size = 1000): () => AsyncIterable<Uint8Array> {
  return async function* () {
    for (let at = 0; at < bytes.byteLength; at += size) yield bytes.subarray(at, at + size);
  };
}

describe("restore after a deletion", () => {
  it("is refused while the deletion's tombstone would delete what it restores, and works once it is gone", async () => {
    let clock = T0 + 50 * DAY_MS;
    const store = new EventStore({ storage: memory(), now: () => clock });
    await seed(store, "acme", 2);
    const before = await ids(store, "acme", "mod-disco");
    const file = await collect(backupTenant(store, "acme"));
    clock += 1000;
    await deleteData(store, { tenant: "acme", module: "mod-disco" });
    expect(await ids(store, "acme", "mod-disco")).toEqual([]);
    const refused = await restoreBackup(store, chunked(file)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(TallyError);
    expect((refused as TallyError).code).toBe("failed_precondition");
    expect((refused as TallyError).message).toMatch(/deletion .* still in progress/);
    // Nothing was written by the refused restore.
    expect(await ids(store, "acme", "mod-disco")).toEqual([]);
    clock += TOMBSTONE_GRACE_MS + 1;
    await resumeDeletions(store);
    await restoreBackup(store, chunked(file));
    expect(await ids(store, "acme", "mod-disco")).toEqual(before);
    await resumeDeletions(store);
    expect(await ids(store, "acme", "mod-disco")).toEqual(before);
  });
});

describe("backup and restore", () => {
  it("restores a tenant equal to the original, leaves other tenants out, and is idempotent", async () => {
    const source = new EventStore({ storage: memory() });
    await seed(source);
    await seed(source, "acme-eu", 1);
    const file = await collect(backupTenant(source, "acme"));
    const target = new EventStore({ storage: memory() });
    expect(await restoreBackup(target, chunked(file))).toEqual({ tenant: "acme", segments: 36, written: 36 });
    for (const module of ["mod-disco", "sys-account"])
      expect(await ids(target, "acme", module)).toEqual(await ids(source, "acme", module));
    expect(await target.storage.getKeys("v1:acme-eu")).toEqual([]);
    expect((await restoreBackup(target, chunked(file))).written).toBe(0);
  });

  it("holds every event acknowledged before it started, once, while writes and compaction go on", async () => {
    const base = memory();
    const store = new EventStore({ storage: base });
    await seed(store);
    const acknowledged = await ids(store, "acme", "mod-disco");
    // Compaction strikes each partition just as the backup reads its first segment there.
    const struck = new Set<string>();
    const racing: Storage = Object.assign(Object.create(base) as Storage, {
      getItemRaw: async (key: string) => {
        const [, , module, , day] = key.split(":");
        if (module === "mod-disco" && day && !struck.has(day)) {
          struck.add(day);
          await compactPartition(new EventStore({ storage: base }), "acme", "mod-disco", day);
        }
        return base.getItemRaw(key);
      },
    });
    let written = 0;
    const file = await collect(
      backupTenant(new EventStore({ storage: racing }), "acme", () => {
        // A writer keeps going while the backup runs.
        void store.record("acme", "mod-disco", [ev(`late-${written++}`, 1, 7)]);
      }),
    );
    expect(struck.size).toBe(3);
    const restored = new EventStore({ storage: memory() });
    await restoreBackup(restored, chunked(file, 777));
    const got = await ids(restored, "acme", "mod-disco");
    for (const id of acknowledged) expect(got).toContain(id);
    expect(await countEvents(restored, "acme", "mod-disco")).toBe(got.length);
    expect(new Set(got).size).toBe(got.length);
  });

  it("restores nothing from a truncated or altered backup", async () => {
    const source = new EventStore({ storage: memory() });
    await seed(source, "acme", 2);
    const file = await collect(backupTenant(source, "acme"));
    const target = new EventStore({ storage: memory() });
    for (const damaged of [file.subarray(0, file.byteLength - 10), file.subarray(0, file.byteLength >> 1)]) {
      await expect(restoreBackup(target, chunked(damaged))).rejects.toMatchObject({ code: "data_loss" });
    }
    // One flipped byte anywhere: in the header, a key, a length, a segment, a checksum, the trailer.
    for (let at = 0; at < file.byteLength; at += 61) {
      const flipped = file.slice();
      flipped[at]! ^= 0x5a;
      await expect(restoreBackup(target, chunked(flipped)), `byte ${at}`).rejects.toMatchObject({
        code: "data_loss",
      });
    }
    await expect(
      restoreBackup(target, chunked(new TextEncoder().encode("hello, this is no backup"))),
    ).rejects.toThrow("not a Tally backup file");
    expect(await target.storage.getKeys("v1")).toEqual([]);
  });

  it("keeps an encrypted store's backup encrypted, and needs the key to restore", async () => {
    const codec = await aesGcmCodec(new Map([["k1", new Uint8Array(32).fill(7)]]), "k1");
    const source = new EventStore({ storage: memory(), codec });
    await seed(source, "acme", 1);
    const file = await collect(backupTenant(source, "acme"));
    expect(Buffer.from(file).includes("backup-plaintext-marker")).toBe(false);
    await expect(restoreBackup(new EventStore({ storage: memory() }), chunked(file))).rejects.toMatchObject({
      code: "failed_precondition",
    });
    const target = new EventStore({ storage: memory(), codec });
    await restoreBackup(target, chunked(file));
    expect(await ids(target, "acme", "mod-disco")).toEqual(await ids(source, "acme", "mod-disco"));
  });
});

describe("copyTenant (tally migrate between stores)", () => {
  it("copies everything, re-sealing for the destination, and resumes after a crash", async () => {
    const source = new EventStore({
      storage: memory(),
      codec: await aesGcmCodec(new Map([["old", new Uint8Array(32).fill(1)]]), "old"),
    });
    await seed(source);
    const destCodec = await aesGcmCodec(new Map([["new", new Uint8Array(32).fill(2)]]), "new");
    const destStorage = memory();
    let writes = 0;
    const crashing: Storage = Object.assign(Object.create(destStorage) as Storage, {
      setItemRaw: async (key: string, value: unknown) => {
        if (++writes > 10) throw new Error("crash");
        return destStorage.setItemRaw(key, value);
      },
    });
    await expect(
      copyTenant(source, new EventStore({ storage: crashing, codec: destCodec }), "acme"),
    ).rejects.toThrow();
    const dest = new EventStore({ storage: destStorage, codec: destCodec });
    const report = await copyTenant(source, dest, "acme");
    expect(report.segments).toBe(36);
    expect(report.copied).toBe(26);
    expect(report.modules).toEqual([
      { module: "mod-disco", source: 60, dest: 60 },
      { module: "sys-account", source: 60, dest: 60 },
    ]);
    expect(await ids(dest, "acme", "sys-account")).toEqual(await ids(source, "acme", "sys-account"));
  });
});
