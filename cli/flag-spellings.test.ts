import { describe, expect, it } from "vitest";
import { withFieldSpellings } from "./flag-spellings.ts";

describe("field spellings of flags", () => {
  it("map --time-zone, --types and --cell-degrees (also with =) to their flags, not after --", () => {
    expect(
      withFieldSpellings([
        "node",
        "tally",
        "series",
        "--time-zone",
        "Europe/Berlin",
        "--types=enrolled",
        "--cell-degrees=0.5",
        "--tz-x",
        "--",
        "--types",
      ]),
    ).toEqual([
      "node",
      "tally",
      "series",
      "--tz",
      "Europe/Berlin",
      "--type=enrolled",
      "--cell=0.5",
      "--tz-x",
      "--",
      "--types",
    ]);
  });
});
