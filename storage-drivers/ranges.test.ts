/** Partial reads (ranges.ts) return exactly the asked bytes, clipped at the end, for every driver that has them. */
import { describe, expect, it } from "vitest";
import { bytesOf } from "./contract-bytes.ts";
import type { RangeReadable } from "./ranges.ts";
import { capableDrivers } from "./test-drivers.ts";

const drivers = capableDrivers("ranges");

describe.each(Object.entries(drivers))("getItemRanges (%s)", (_, make) => {
  it("reads each range into a buffer of its own, clips at the end, and is null for a missing key", async () => {
    const driver = await make();
    const value = bytesOf(100_000, 3);
    await driver.setItemRaw!("a:b", value, {});
    const { getItemRanges } = driver as unknown as RangeReadable;
    const got = await getItemRanges("a:b", [
      [0, 10],
      [50_000, 1000],
      [99_990, 100],
      [7, 0],
    ]);
    expect(got).not.toBeNull();
    const [first, middle, last, empty] = got!.parts;
    expect(first).toEqual(value.slice(0, 10));
    expect(middle).toEqual(value.slice(50_000, 51_000));
    expect(last).toEqual(value.slice(99_990));
    expect(empty!.byteLength).toBe(0);
    for (const part of got!.parts) expect(part.byteOffset % 8).toBe(0);
    // The length is known when a read reached the end.
    expect(got!.size).toBe(100_000);
    expect(await getItemRanges("a:missing", [[0, 10]])).toBeNull();
    await driver.dispose?.();
  });
});
