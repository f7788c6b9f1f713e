import { tmpdir } from "node:os";
import { create, toBinary } from "@bufbuild/protobuf";
import { createStorage } from "unstorage";
import { afterEach, describe, expect, it } from "vitest";
import { RecordEventsRequestSchema } from "../proto/gen/telemetry/v1/telemetry_pb.ts";
import { generateEvents, toEventInit } from "../scripts/bench-data.ts";
import { memoryDriver } from "../storage-drivers/memory.ts";
import { compactModule } from "../store/compaction.ts";
import { EventStore } from "../store/event-store.ts";
import { listEvents } from "../store/list-events.ts";
import { encodeSegment } from "../store/segment-encode.ts";
import { mergeSegments } from "../store/segment-encoder.ts";
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

  it("merges compaction inputs in its worker to the bytes, ids and times of a merge in the calling thread", async () => {
    const day = { start: Date.UTC(2026, 2, 1), end: Date.UTC(2026, 2, 2) };
    // Fresh segments and a compacted one (deflated data), some rows masked as duplicates.
    const inputs = [
      encodeSegment(generateEvents(700, { ...day, seed: 11 }), 100),
      encodeSegment(generateEvents(300, { ...day, seed: 12 }), 200, ["x"], true),
      encodeSegment(generateEvents(500, { ...day, seed: 13 }), 300),
    ];
    const masks = [null, Uint8Array.from({ length: 300 }, (_, i) => (i % 7 === 0 ? 1 : 0)), null];
    const e = encoder();
    const merged = await e.merge(inputs, masks, 5_000, ["s1", "s2", "s3"]);
    const here = mergeSegments(inputs, masks, 5_000, ["s1", "s2", "s3"]);
    expect(merged.bytes).toEqual(here.bytes);
    expect(merged.count).toBe(1500 - 43);
    expect([merged.ids, [...merged.idEnd], [...merged.times]]).toEqual([
      here.ids,
      [...here.idEnd],
      [...here.times],
    ]);
    // An input that does not decode fails the merge, as unavailable; the worker goes on.
    const damaged = inputs[0]!.slice();
    damaged[40]! ^= 1;
    await expect(e.merge([damaged, inputs[2]!], [null, null], 1, [])).rejects.toThrow(
      /segment encoder: .*merge input 0/,
    );
    expect((await e.merge(inputs, masks, 5_000, ["s1", "s2", "s3"])).bytes).toEqual(here.bytes);
  });

  it("compacts a store's partitions through its worker: same segments, answers and duplicate checks", async () => {
    const e = encoder();
    let merges = 0;
    const merge = e.merge.bind(e);
    e.merge = (...args) => {
      merges++;
      return merge(...args);
    };
    const events = generateEvents(6_000, {
      start: Date.UTC(2026, 2, 1),
      end: Date.UTC(2026, 2, 3),
      seed: 21,
    });
    const stores = [undefined, e].map((enc) => {
      const driver = memoryDriver();
      let clock = Date.UTC(2026, 5, 1);
      const store = new EventStore({ storage: createStorage({ driver }), encoder: enc, now: () => clock++ });
      return { driver, store };
    });
    for (const { store } of stores) {
      for (let i = 0; i < events.length; i += 1_000) await store.record("t", "m", events.slice(i, i + 1_000));
      await compactModule(store, "t", "m");
    }
    // One merged segment a day in both, holding the same events (names differ: they carry random digits).
    const spec = {
      tenant: "t",
      module: "m",
      start: Date.UTC(2026, 2, 1),
      end: Date.UTC(2026, 2, 3),
      types: [],
      filters: [],
      asOf: Number.MAX_VALUE,
      order: "asc" as const,
    };
    const listed = [];
    for (const { driver, store } of stores) {
      expect((await driver.getKeys("", {})).filter((k) => k.includes(":ev:")).length).toBe(2);
      listed.push(await listEvents(store, spec, 10_000, undefined));
    }
    expect(merges).toBe(2);
    expect(listed[1]!.events.length).toBe(6_000);
    expect(listed[1]).toEqual(listed[0]);
    // The merged segments' ids reached the writer's index: a retry of every batch stores nothing.
    for (let i = 0; i < events.length; i += 1_000)
      expect(await stores[1]!.store.record("t", "m", events.slice(i, i + 1_000))).toEqual({
        accepted: 0,
        duplicates: 1_000,
      });
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
