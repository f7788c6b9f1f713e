import { tmpdir } from "node:os";
import { create, toBinary } from "@bufbuild/protobuf";
import { afterEach, describe, expect, it } from "vitest";
import { RecordEventsRequestSchema } from "../proto/gen/telemetry/v1/telemetry_pb.ts";
import { generateEvents, toEventInit } from "../scripts/bench-data.ts";
import { encodeSegment } from "../store/segment-format.ts";
import { DEFAULT_LIMITS } from "./limits.ts";
import { WorkerEncoder } from "./node-encoder.ts";
import { decodeRecordRequest } from "./record-decoder.ts";
import { validateRecord } from "./validate-events.ts";

/** Events as the fast path stores them: decoded from the wire (prepared), validated. */
function preparedEvents(count: number, seed: number) {
  const events = generateEvents(count, { seed });
  const bytes = toBinary(
    RecordEventsRequestSchema,
    create(RecordEventsRequestSchema, { module: "mod-disco", events: events.map(toEventInit) }),
  );
  return validateRecord(decodeRecordRequest(bytes), DEFAULT_LIMITS, 0);
}

describe("WorkerEncoder", () => {
  const encoders: WorkerEncoder[] = [];
  const encoder = () => {
    const e = new WorkerEncoder();
    encoders.push(e);
    return e;
  };
  afterEach(async () => {
    await Promise.all(encoders.splice(0).map((e) => e.close()));
  });

  it("encodes prepared lists in its worker to encodeSegment's bytes, several at once", async () => {
    const lists = [preparedEvents(1_000, 1), preparedEvents(600, 2), preparedEvents(2_000, 3)];
    const e = encoder();
    const bytes = await Promise.all(lists.map((list, i) => e.encode(list, 1_000 + i)));
    for (const [i, list] of lists.entries()) expect(bytes[i]).toEqual(encodeSegment(list, 1_000 + i));
  });

  it("encodes small lists and lists of object data in the calling thread, to the same bytes", async () => {
    const small = preparedEvents(10, 4);
    const objects = generateEvents(1_000, { seed: 5 });
    const e = encoder();
    expect(await e.encode(small, 7)).toEqual(encodeSegment(small, 7));
    expect(await e.encode(objects, 7)).toEqual(encodeSegment(objects, 7));
  });

  it("starts its worker whatever the working directory (tsx is found from this module)", async () => {
    const list = preparedEvents(600, 7);
    const cwd = process.cwd();
    process.chdir(tmpdir());
    try {
      expect(await encoder().encode(list, 4)).toEqual(encodeSegment(list, 4));
    } finally {
      process.chdir(cwd);
    }
  });

  it("fails the encodes a stopped worker held, then starts a new one", async () => {
    const list = preparedEvents(1_000, 6);
    const e = encoder();
    const held = expect(e.encode(list, 1)).rejects.toThrow(/closed/);
    await e.close();
    await held;
    expect(await e.encode(list, 2)).toEqual(encodeSegment(list, 2));
  });
});
