/**
 * The events export reads compacted segments by their stored CSV shapes and fresh ones by flattening the
 * data: both must write the very same CSV, for any data, selection, order and columns.
 */
import fc from "fast-check";
import { createStorage } from "unstorage";
import { describe, expect, it } from "vitest";
import { memoryDriver } from "../storage-drivers/memory.ts";
import { exportedEvents } from "../test/export-text.ts";
import { compactModule } from "./compaction.ts";
import { EventStore } from "./event-store.ts";
import type { JsonObject, JsonValue, StoredEvent } from "./json.ts";
import type { ListSpec } from "./query-spec.ts";

const DAY = 86_400_000;
const START = Date.UTC(2026, 2, 28);

const value: fc.Arbitrary<JsonValue> = fc.letrec<{ v: JsonValue }>((tie) => ({
  v: fc.oneof(
    { depthSize: "small" },
    fc.constant(null),
    fc.boolean(),
    fc.integer({ min: -5, max: 5 }),
    fc.constantFrom("=1+1", 'a "b", c', "x\ny", "Zürich 東京", "\\", ""),
    fc.array(tie("v"), { maxLength: 2 }),
    fc.dictionary(fc.constantFrom("a", "b", "a.b", "-"), tie("v"), { maxKeys: 2 }),
  ),
})).v;

const event = fc.record({
  id: fc.constantFrom("e1", "e2", "e3", "e4", "=e5", "e,6"),
  type: fc.constantFrom("joined", "left"),
  time: fc.integer({ min: START, max: START + 3 * DAY - 1 }),
  data: fc.dictionary(fc.constantFrom("org", "project", "supplies", "n", "a.b", "a"), value, {
    maxKeys: 4,
  }) as fc.Arbitrary<JsonObject>,
  located: fc.boolean(),
});

describe("events export over compacted segments", () => {
  it("writes the same CSV as over the fresh segments they replace", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(event, { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 4 }),
        fc.constantFrom<ListSpec["order"]>("asc", "desc"),
        fc.constantFrom<string[]>([], ["joined"]),
        fc.constantFrom<string[]>([], ["org", "a.b", "missing"], ["a", "org", "a.b"]),
        async (batches, order, types, columns) => {
          const store = new EventStore({ storage: createStorage({ driver: memoryDriver() }) });
          for (const batch of batches) {
            const events: StoredEvent[] = batch.map((e) => ({
              id: e.id,
              type: e.type,
              time: e.time,
              data: e.data,
              lat: e.located ? 52.5 : Number.NaN,
              lon: e.located ? 13.4 : Number.NaN,
            }));
            await store.record("t", "m", events);
          }
          const spec: ListSpec = {
            tenant: "t",
            module: "m",
            start: START,
            end: START + 3 * DAY,
            types,
            filters: [],
            asOf: Number.MAX_SAFE_INTEGER,
            order,
          };
          const fresh = await exportedEvents(store, spec, columns);
          await compactModule(store, "t", "m");
          expect(await exportedEvents(store, spec, columns)).toBe(fresh);
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe("a requested column that names an object", () => {
  it("holds the object's JSON text, as an array's column does, in fresh and compacted segments", async () => {
    const store = new EventStore({ storage: createStorage({ driver: memoryDriver() }) });
    const data: JsonObject[] = [
      { org: "o1", meta: { device: { os: "ios", v: 17 } } },
      { org: "o2", meta: "plain" },
      { org: "o3", meta: {} },
      { org: "o4", "meta.device": { os: "literal dots" } },
      // A key with a dot makes "meta" look like an object's name; it is a plain value, and stays one.
      { org: "o5", meta: "plain too", "meta.device": null },
    ];
    await store.record(
      "t",
      "m",
      data.map((d, i) => ({
        id: `e${i}`,
        type: "x",
        time: START + i,
        data: d,
        lat: Number.NaN,
        lon: Number.NaN,
      })),
    );
    const spec: ListSpec = {
      tenant: "t",
      module: "m",
      start: START,
      end: START + DAY,
      types: [],
      filters: [],
      asOf: Number.MAX_SAFE_INTEGER,
      order: "asc",
    };
    const columns = ["meta", "meta.device", "meta.device.os"];
    const expected = [
      "id,type,time,lat,lon,meta,meta.device,meta.device.os",
      'e0,x,2026-03-28T00:00:00.000Z,,,"{""device"":{""os"":""ios"",""v"":17}}","{""os"":""ios"",""v"":17}",ios',
      "e1,x,2026-03-28T00:00:00.001Z,,,plain,,",
      "e2,x,2026-03-28T00:00:00.002Z,,,{},,",
      'e3,x,2026-03-28T00:00:00.003Z,,,,"{""os"":""literal dots""}",literal dots',
      "e4,x,2026-03-28T00:00:00.004Z,,,plain too,,",
      "",
    ].join("\r\n");
    expect(await exportedEvents(store, spec, columns)).toBe(expected);
    await compactModule(store, "t", "m");
    expect(await exportedEvents(store, spec, columns)).toBe(expected);
  });
});
