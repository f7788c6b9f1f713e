/**
 * scan's `take` (a ListEvents page's need): each segment's rows are checked only until enough match, so
 * its matches must be exactly the first ones a full scan finds, counted after the cursor, in either order.
 */
import fc from "fast-check";
import { createStorage } from "unstorage";
import { describe, expect, it } from "vitest";
import { memoryDriver } from "../storage-drivers/memory.ts";
import { compactModule } from "./compaction.ts";
import { EventStore } from "./event-store.ts";
import type { Selection } from "./query-spec.ts";
import { type Match, scan, type Take } from "./scan.ts";

const T0 = Date.UTC(2026, 2, 1);

const eventArb = fc.record({
  // Few instants: many rows share a millisecond, so a cursor's own millisecond holds several.
  second: fc.integer({ min: 0, max: 5 }),
  id: fc.constantFrom("a", "b", "c", "d"),
  group: fc.constantFrom("x", "y"),
  type: fc.constantFrom("joined", "left"),
});

/** Each segment's matched rows, by key. */
async function rowsBySegment(store: EventStore, sel: Selection, order: "asc" | "desc", take?: Take) {
  const out = new Map<string, number[]>();
  for await (const matches of scan(store, sel, { order, take }))
    for (const m of matches as Match[]) out.set(m.key, [...m.rows]);
  return out;
}

describe("scan with take", () => {
  it("returns each segment's first matches in the scan's order, not counting rows at or before the cursor", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(eventArb, { minLength: 1, maxLength: 25 }), { minLength: 1, maxLength: 4 }),
        fc.boolean(),
        fc.constantFrom<"asc" | "desc">("asc", "desc"),
        fc.integer({ min: 1, max: 6 }),
        fc.option(fc.record({ second: fc.integer({ min: 0, max: 5 }), id: fc.constantFrom("a", "b", "c") })),
        fc.boolean(),
        fc.boolean(),
        async (batches, compact, order, rows, cursorDrawn, filtered, typed) => {
          const store = new EventStore({ storage: createStorage({ driver: memoryDriver() }) });
          let n = 0;
          for (const batch of batches)
            await store.record(
              "t",
              "m",
              batch.map((e) => ({
                id: `${e.id}${n++}`,
                type: e.type,
                time: T0 + e.second * 1000,
                data: { group: e.group },
                lat: Number.NaN,
                lon: Number.NaN,
              })),
            );
          if (compact) await compactModule(store, "t", "m");
          const after = cursorDrawn
            ? { time: T0 + cursorDrawn.second * 1000, id: cursorDrawn.id }
            : undefined;
          const sel: Selection = {
            tenant: "t",
            module: "m",
            // As ListEvents narrows it: the cursor's millisecond stays in.
            start: after && order === "asc" ? after.time : T0,
            end: after && order === "desc" ? after.time + 1 : T0 + 86_400_000,
            types: typed ? ["left"] : [],
            filters: filtered ? [{ field: "group", op: "eq", values: ["x"] }] : [],
            asOf: Date.UTC(2100, 0, 1),
          };
          const full = await rowsBySegment(store, sel, order);
          const taken = await rowsBySegment(store, sel, order, { rows, after });
          // What take must give: the full scan's rows in the scan's order, up to the `rows`-th counted.
          const segments = new Map<string, { time: Float64Array | number[]; id: (r: number) => string }>();
          for await (const p of store.partitions("t", "m", sel.start, sel.end))
            for (const s of p.segments)
              segments.set(s.key, { time: s.segment.time, id: (r) => s.segment.id(r) });
          const expected = new Map<string, number[]>();
          for (const [key, all] of full) {
            const { time, id } = segments.get(key)!;
            const inOrder = order === "desc" ? [...all].reverse() : all;
            const kept: number[] = [];
            let counted = 0;
            for (const r of inOrder) {
              if (counted === rows) break;
              kept.push(r);
              const t = time[r]!;
              const before =
                after !== undefined &&
                (order === "asc"
                  ? t < after.time || (t === after.time && id(r) <= after.id)
                  : t > after.time || (t === after.time && id(r) >= after.id));
              if (!before) counted++;
            }
            expected.set(
              key,
              kept.sort((a, b) => a - b),
            );
          }
          expect(new Map([...taken].filter(([, r]) => r.length > 0))).toEqual(
            new Map([...expected].filter(([, r]) => r.length > 0)),
          );
        },
      ),
      { numRuns: 80 },
    );
  });
});
