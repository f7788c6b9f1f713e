import { describe, expect, it } from "vitest";
import { mapLimit } from "./map-limit.ts";

describe("mapLimit", () => {
  it("keeps order, never runs more than the limit at once, and fails like Promise.all", async () => {
    let running = 0;
    let peak = 0;
    const slow = async (n: number) => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, (n * 7) % 5));
      running--;
      return n * 2;
    };
    const items = Array.from({ length: 50 }, (_, i) => i);
    expect(await mapLimit(items, 4, slow)).toEqual(items.map((n) => n * 2));
    expect(peak).toBe(4);
    expect(await mapLimit([], 4, slow)).toEqual([]);
    await expect(
      mapLimit(items, 3, async (n) => {
        if (n === 10) throw new Error("boom");
        return n;
      }),
    ).rejects.toThrow("boom");
  });
});
