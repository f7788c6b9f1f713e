/** One-level listings (prefixes.ts) agree with full listings, for every driver that has them. */
import type { Driver } from "unstorage";
import { describe, expect, it } from "vitest";
import type { ChildKeysListable, PrefixListable } from "./prefixes.ts";
import { capableDrivers } from "./test-drivers.ts";

const drivers = capableDrivers("prefixes");

describe.each(Object.entries(drivers))("getChildPrefixes (%s)", (_, make) => {
  it("names the next segments below a base that hold deeper keys, and agrees with getKeys", async () => {
    const driver = (await make()) as Driver & PrefixListable;
    const keys = [
      "v1:t:m:ev:20260101:a",
      "v1:t:m:ev:20260101:b",
      "v1:t:m:ev:20260103:c",
      "v1:t:m:ev:20260103:c.bad",
      "v1:t:m:other",
      "v1:t:n:ev:20260102:d",
    ];
    for (const key of keys) await driver.setItemRaw!(key, new Uint8Array([1]), {});
    expect(await driver.getChildPrefixes("v1:t:m:ev")).toEqual(["20260101", "20260103"]);
    expect(await driver.getChildPrefixes("v1:t:m")).toEqual(["ev"]);
    expect(await driver.getChildPrefixes("v1:t")).toEqual(["m", "n"]);
    expect(await driver.getChildPrefixes("v1:t:m:ev:20260101")).toEqual([]);
    expect(await driver.getChildPrefixes("v1:nothing")).toEqual([]);
    await driver.removeItem!("v1:t:m:ev:20260101:a", {});
    await driver.removeItem!("v1:t:m:ev:20260101:b", {});
    expect(await driver.getChildPrefixes("v1:t:m:ev")).toEqual(["20260103"]);
    const all = (await driver.getKeys("v1:t:m:ev", {})).map((k) => k.split(":")[4]);
    expect([...new Set(all)].sort()).toEqual(await driver.getChildPrefixes("v1:t:m:ev"));
  });

  it("pages through more than a thousand children", async () => {
    const driver = (await make()) as Driver & PrefixListable;
    const days = Array.from({ length: 1100 }, (_, i) => `d${String(i).padStart(4, "0")}`);
    await Promise.all(days.map((d) => driver.setItemRaw!(`v1:t:m:ev:${d}:s`, new Uint8Array([1]), {})));
    expect(await driver.getChildPrefixes("v1:t:m:ev")).toEqual(days);
  });
});

// R2 lists every key of a prefix in one call already (1,000 a page): it has no grouped listing.
const grouping = { "fs-atomic": drivers["fs-atomic"]!, memory: drivers.memory! };

describe.each(Object.entries(grouping))("getKeysByChild (%s)", (_, make) => {
  it("groups the keys below a base by their next segment, as getKeys lists them", async () => {
    const driver = (await make()) as Driver & ChildKeysListable;
    const keys = [
      "v1:t:m:ev:20260103:c",
      "v1:t:m:ev:20260101:b",
      "v1:t:m:ev:20260101:a",
      "v1:t:m:ev:20260103:c.quarantined",
      "v1:t:m:ev:20260104:x:deeper",
      "v1:t:m:other",
      "v1:t:n:ev:20260102:d",
    ];
    for (const key of keys) await driver.setItemRaw!(key, new Uint8Array([1]), {});
    expect(await driver.getKeysByChild("v1:t:m:ev")).toEqual([
      ["20260101", ["a", "b"]],
      ["20260103", ["c", "c.quarantined"]],
      ["20260104", ["x:deeper"]],
    ]);
    // A key directly below the base is in no group; each group is what getKeys lists below the child.
    const groups = await driver.getKeysByChild("v1:t:m");
    expect(groups.map(([child]) => child)).toEqual(["ev"]);
    expect(groups[0]![1].map((key) => `v1:t:m:ev:${key}`)).toEqual(await driver.getKeys("v1:t:m:ev", {}));
    expect(await driver.getKeysByChild("v1:nothing")).toEqual([]);
    await driver.removeItem!("v1:t:m:ev:20260101:a", {});
    await driver.removeItem!("v1:t:m:ev:20260101:b", {});
    expect((await driver.getKeysByChild("v1:t:m:ev")).map(([child]) => child)).toEqual([
      "20260103",
      "20260104",
    ]);
  });
});
