import { create, toBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { DEFAULT_LIMITS } from "../functions/limits.ts";
import { decodeRecordRequest } from "../functions/record-decoder.ts";
import { validateRecord } from "../functions/validate-events.ts";
import { RecordEventsRequestSchema } from "../proto/gen/telemetry/v1/telemetry_pb.ts";
import { generateEvents, toEventInit } from "../scripts/bench-data.ts";
import { encodeSegment } from "./segment-encode.ts";
import { packPrepared, unpackPrepared } from "./segment-encoder.ts";

function prepared(count: number, seed: number) {
  const bytes = toBinary(
    RecordEventsRequestSchema,
    create(RecordEventsRequestSchema, {
      module: "mod-disco",
      events: generateEvents(count, { seed }).map(toEventInit),
    }),
  );
  return validateRecord(decodeRecordRequest(bytes), DEFAULT_LIMITS, 0);
}

describe("packed prepared events", () => {
  it("encode after a structured clone to the bytes of the events themselves, from several requests", () => {
    const events = [...prepared(300, 1), ...prepared(200, 2)];
    events[3]!.ingested = 12_345;
    const packed = packPrepared(events)!;
    expect(packed.data).toHaveLength(2);
    expect(encodeSegment(unpackPrepared(structuredClone(packed)), 99)).toEqual(encodeSegment(events, 99));
  });

  it("are not made when an event's data is a JS object", () => {
    expect(packPrepared([...prepared(5, 3), ...generateEvents(1, { seed: 4 })])).toBeUndefined();
  });
});
