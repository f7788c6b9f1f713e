import { describe, expect, it } from "vitest";
import { circleSize } from "./circle-size.ts";

describe("heat circle sizes", () => {
  it("make areas proportional to counts, above a visible minimum", () => {
    const area = (count: number) => circleSize(count, 200) ** 2;
    expect(circleSize(200, 200)).toBe(30);
    expect(area(50) / area(200)).toBeCloseTo(0.25, 10);
    expect(area(8) / area(200)).toBeCloseTo(0.04, 10);
    // 1 of 200 would be 2.1 px across: drawn at the 3 px minimum.
    expect(circleSize(1, 200)).toBe(3);
    expect(circleSize(1, 1)).toBe(30);
  });
});
