/**
 * Two processes (two EventStores on one storage: the memory driver and the filesystem driver) record
 * random batches at once, the same batch often sent to both: every query, ListEvents page, events export
 * and the compaction afterwards count each (id, time) once.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { createStorage, type Storage } from "unstorage";
import { describe, expect, it } from "vitest";
import { fsAtomicDriver } from "../storage-drivers/fs-atomic.ts";
import { memoryDriver } from "../storage-drivers/memory.ts";
import { countSpec } from "../test/count-spec.ts";
import { compactModule } from "./compaction.ts";
import { EventStore } from "./event-store.ts";
import { exportCsv } from "./export.ts";
import type { StoredEvent } from "./json.ts";
import { type EventCursor, listEvents } from "./list-events.ts";
import { querySeries } from "./series.ts";

const DAY = Date.UTC(2026, 2, 3);
const event = (id: string, time: number): StoredEvent => ({
  id,
  type: "t",
  time,
  data: { id },
  lat: Number.NaN,
  lon: Number.NaN,
});
const sel = {
  tenant: "t",
  module: "m",
  start: DAY - 86_400_000,
  end: DAY + 2 * 86_400_000,
  types: [],
  filters: [],
  asOf: Number.MAX_VALUE,
};

async function counted(store: EventStore) {
  const series = await querySeries(store, countSpec(sel.start, { end: sel.end, interval: "total" }), {
    maxGroups: 10,
  });
  const listed: string[] = [];
  let cursor: EventCursor | undefined;
  for (;;) {
    const page = await listEvents(store, { ...sel, order: "asc" }, 3, cursor);
    listed.push(...page.events.map((e) => `${e.id}/${e.time}`));
    const last = page.events.at(-1);
    if (!page.more || !last) break;
    cursor = { time: last.time, id: last.id };
  }
  let csv = "";
  for await (const chunk of exportCsv(
    store,
    { kind: "events", spec: { ...sel, order: "asc" }, columns: [] },
    { bom: false, limits: { maxGroups: 10 } },
  ))
    csv += chunk;
  const rows = csv.split("\r\n").filter((line) => line !== "").length - 1;
  return { total: series.value(0, 0), listed: listed.sort(), rows };
}

const batchArb = fc.array(
  fc
    .record({ id: fc.constantFrom("a", "b", "c", "d", "e"), t: fc.integer({ min: -1, max: 3 }) })
    // A few on the day before: batches span two partitions.
    .map(({ id, t }) => event(id, DAY + t * 3_600_000 * (t < 0 ? 24 : 1))),
  { minLength: 1, maxLength: 6 },
);

describe.each([
  ["memory", async () => ({ storage: createStorage({ driver: memoryDriver() }), done: async () => {} })],
  [
    "filesystem",
    async () => {
      const dir = await mkdtemp(join(tmpdir(), "tally-racing-"));
      return {
        storage: createStorage({ driver: fsAtomicDriver({ base: dir }) }),
        done: () => rm(dir, { recursive: true, force: true }),
      };
    },
  ],
] as [string, () => Promise<{ storage: Storage; done: () => Promise<void> }>][])(
  "two writers racing on the %s driver",
  (_, open) => {
    it("count every event once in queries, pages and exports, and compaction keeps one copy", async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.tuple(batchArb, fc.constantFrom("one", "other", "both")), {
            minLength: 1,
            maxLength: 5,
          }),
          fc.boolean(),
          async (sends, groupCommit) => {
            const { storage, done } = await open();
            try {
              const one = new EventStore({ storage, groupCommit });
              const other = new EventStore({ storage, groupCommit });
              const calls = sends.flatMap(([batch, to]) => [
                ...(to !== "other" ? [one.record("t", "m", batch)] : []),
                ...(to !== "one"
                  ? [
                      other.record(
                        "t",
                        "m",
                        batch.map((e) => ({ ...e })),
                      ),
                    ]
                  : []),
              ]);
              const answers = await Promise.all(calls);
              const distinct = [...new Set(sends.flatMap(([b]) => b.map((e) => `${e.id}/${e.time}`)))].sort();
              const accepted = answers.reduce((n, a) => n + a.accepted, 0);
              expect(accepted).toBeGreaterThanOrEqual(distinct.length);
              const expected = { total: distinct.length, listed: distinct, rows: distinct.length };
              expect(await counted(new EventStore({ storage }))).toEqual(expected);
              await compactModule(new EventStore({ storage }), "t", "m");
              const fresh = new EventStore({ storage });
              expect(await counted(fresh)).toEqual(expected);
              let rows = 0;
              for await (const p of fresh.partitions("t", "m", sel.start, sel.end))
                for (const s of p.segments) rows += s.segment.count;
              expect(rows).toBe(distinct.length);
              // Every event is a duplicate now, for either writer.
              for (const [batch] of sends) {
                const again = await other.record("t", "m", batch);
                expect(again.accepted).toBe(0);
              }
            } finally {
              await done();
            }
          },
        ),
        { numRuns: 25 },
      );
    });
  },
);
