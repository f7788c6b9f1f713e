/**
 * The event-size limit counts UTF-8 bytes of the data's JSON exactly, on both sides of the limit, whether
 * or not the text is short enough to be let through uncounted (at most 3 bytes per UTF-16 unit).
 */
import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { RecordEventsRequestSchema } from "../proto/gen/telemetry/v1/telemetry_pb.ts";
import { DEFAULT_LIMITS } from "./limits.ts";
import { validateRecord } from "./validate-events.ts";

const limits = { ...DEFAULT_LIMITS, maxEventBytes: 2048 };
/** `{"s":"…"}` is 8 bytes around the string. */
const withString = (s: string) =>
  create(RecordEventsRequestSchema, { module: "mod-disco", events: [{ type: "x", data: { s } }] });
const check = (s: string) => () => validateRecord(withString(s), limits, 0);

describe("validateRecord: the event-size limit", () => {
  it("accepts data of exactly the limit and refuses one byte more, in ASCII and in multibyte text", () => {
    expect(check("x".repeat(2040))).not.toThrow();
    expect(check("x".repeat(2041))).toThrow(/^events\[0\]\.data: 2049 bytes as JSON; at most 2048/);
    // 680 × 3 bytes + 8 = 2048: under the uncounted bound in units (688 × 3 > 2048), so counted.
    expect(check("€".repeat(680))).not.toThrow();
    expect(check(`${"€".repeat(680)}x`)).toThrow(/2049 bytes as JSON/);
    // Pairs: 4 bytes for 2 units.
    expect(check(`${"😀".repeat(510)}`)).not.toThrow();
    expect(check(`${"😀".repeat(510)}x`)).toThrow(/2049 bytes as JSON/);
    // Short text is let through uncounted: 682 units × 3 ≤ 2048, whatever they hold.
    expect(check("€".repeat(674))).not.toThrow();
  });
});
