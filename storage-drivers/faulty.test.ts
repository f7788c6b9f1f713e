import { createStorage } from "unstorage";
import { describe, expect, it } from "vitest";
import { testDriver } from "./contract.ts";
import { faultyDriver } from "./faulty.ts";
import { memoryDriver } from "./memory.ts";

// With no faults configured, the wrapper is the driver it wraps: it passes the whole contract.
testDriver({
  name: "faulty (no faults) over memory",
  create: async () => ({ driver: faultyDriver({ driver: memoryDriver(), seed: 1 }) }),
});

/** Runs 200 writes, reads and listings and returns which failed, and how. */
async function trace(seed: number) {
  const driver = faultyDriver({
    driver: memoryDriver(),
    seed,
    rate: { read: 0.2, write: 0.2, list: 0.2, remove: 0.2 },
    timeoutMs: 1,
  });
  const storage = createStorage({ driver });
  const out: string[] = [];
  for (let i = 0; i < 200; i++) {
    const ops = [
      () => storage.setItemRaw(`k:${i}`, new Uint8Array([i])),
      () => storage.getItemRaw(`k:${i - 1}`),
      () => storage.getKeys("k"),
      () => storage.removeItem(`k:${i - 2}`),
    ];
    const op = ops[i % 4]!;
    out.push(
      await op().then(
        () => "ok",
        (e: { code?: string }) => e.code ?? "?",
      ),
    );
  }
  return { out, faults: driver.faults };
}

describe("faulty driver", () => {
  it("injects EIO, ENOSPC (writes only) and timeouts at seeded points, the same for the same seed", async () => {
    const a = await trace(42);
    const b = await trace(42);
    const c = await trace(43);
    expect(a.out).toEqual(b.out);
    expect(a.out).not.toEqual(c.out);
    expect(new Set(a.out)).toEqual(new Set(["ok", "EIO", "ENOSPC", "ETIMEDOUT"]));
    expect(a.out.filter((r, i) => r === "ENOSPC" && i % 4 !== 0)).toEqual([]);
    expect(a.faults.injected.total).toBe(a.out.filter((r) => r !== "ok").length);
    expect(a.faults.injected.total).toBeGreaterThan(20);
  });

  it("a write failing 'after' has landed; one failing before has not", async () => {
    const driver = faultyDriver({
      driver: memoryDriver(),
      seed: 5,
      rate: { write: 1 },
      kinds: ["EIO"],
      afterRate: 0.5,
    });
    const inner = createStorage({ driver });
    const landed: boolean[] = [];
    for (let i = 0; i < 40; i++) {
      await expect(inner.setItemRaw(`k:${i}`, new Uint8Array([1]))).rejects.toMatchObject({ code: "EIO" });
      driver.faults.enabled = false;
      landed.push(await inner.hasItem(`k:${i}`));
      driver.faults.enabled = true;
    }
    expect(landed).toContain(true);
    expect(landed).toContain(false);
  });

  it("diskFull fails every write with ENOSPC, even when disabled, and reads go on", async () => {
    const driver = faultyDriver({ driver: memoryDriver(), seed: 1 });
    const storage = createStorage({ driver });
    await storage.setItemRaw("a", new Uint8Array([1]));
    driver.faults.enabled = false;
    driver.faults.diskFull = true;
    await expect(storage.setItemRaw("b", new Uint8Array([2]))).rejects.toMatchObject({ code: "ENOSPC" });
    expect(await storage.getItemRaw("a")).toEqual(new Uint8Array([1]));
    expect(await storage.hasItem("b")).toBe(false);
    driver.faults.diskFull = false;
    await storage.setItemRaw("b", new Uint8Array([2]));
    expect(await storage.getKeys("")).toEqual(["a", "b"]);
  });
});
