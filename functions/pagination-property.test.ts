/**
 * Pagination against its contract (docs/api.md "Pagination"), as properties: for any page size, all pages
 * of QuerySeries, QueryGeo and ListEvents (both orders) concatenated equal the one big answer taken at the
 * first page's instant, with writes and compactions between pages; ties on time go by id, ids that are
 * prefixes of each other included.
 */
import { timestampDate, timestampFromMs } from "@bufbuild/protobuf/wkt";
import { createClient, createRouterTransport } from "@connectrpc/connect";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Interval, Operator, Order, TelemetryService } from "../proto/gen/telemetry/v1/telemetry_pb.ts";
import { routerOptions, routes } from "./routes.ts";
import { testDeps } from "./test-deps.ts";
import { WorkerSteps } from "./worker-steps.ts";

const T0 = Date.UTC(2026, 2, 1);
const HOUR = 3_600_000;
const MODULE = "mod-pages";
const RANGE = { start: timestampFromMs(T0), end: timestampFromMs(T0 + 3 * 24 * HOUR) };

/** Two clients of one server: Connect JSON and Connect binary (a token of one is good on the other). */
function clients(stepped = false) {
  const deps = testDeps();
  // As on Workers: every query in steps, here of one event each (a step still finishes its partition).
  if (stepped)
    deps.aggregate = new WorkerSteps({
      store: deps.store,
      secret: new Uint8Array(32),
      maxEvents: 1,
    }).aggregations();
  const over = (useBinaryFormat: boolean) =>
    createClient(
      TelemetryService,
      createRouterTransport((router) => routes(router, deps), {
        router: routerOptions(deps),
        transport: { useBinaryFormat },
      }),
    );
  return [over(false), over(true)] as const;
}
type Client = ReturnType<typeof clients>[number];

// Few distinct times, ids and cells, so that ties on time, id prefixes and equal counts are common.
const arbEvent = fc.record({
  id: fc.constantFrom("", "a", "ab", "abc", "b", "B", "a\u{1F600}", "a\uFEFF", "aa"),
  hour: fc.constantFrom(-1, 0, 0, 1, 23, 24, 47, 48, 71, 72),
  ms: fc.constantFrom(0, 0, 1),
  org: fc.constantFrom("x", "y", "z"),
  type: fc.constantFrom("t", "u", "v"),
  cell: fc.constantFrom(0, 1, 2, 3),
});
type Ev = typeof arbEvent extends fc.Arbitrary<infer T> ? T : never;
const arbBatch = fc.array(arbEvent, { minLength: 0, maxLength: 12 });
// Between pages: writes, compactions of the module or of one day (0, 1, 2).
const arbBetween = fc.array(fc.oneof(arbBatch, fc.constantFrom("compact" as const, 0, 1, 2)), {
  maxLength: 6,
});

async function write(c: Client, batch: Ev[]) {
  if (batch.length === 0) return;
  await c.recordEvents({
    module: MODULE,
    events: batch.map((e) => ({
      id: e.id,
      type: e.type,
      time: timestampFromMs(T0 + e.hour * HOUR + e.ms),
      data: { org: e.org },
      location: { lat: e.cell * 10 + 1, lon: e.cell * 10 + 1 },
    })),
  });
}

const ms = (t: Parameters<typeof timestampDate>[0] | undefined) => (t ? timestampDate(t).getTime() : null);

const dayRange = (day: number) => ({
  start: timestampFromMs(T0 + day * 24 * HOUR),
  end: timestampFromMs(T0 + (day + 1) * 24 * HOUR),
});

/** A type filter and a data filter: rows checked one by one rather than taken whole. */
const FILTERS = {
  types: ["t", "u"],
  filters: [
    { field: "org", op: Operator.NEQ, values: [{ kind: { case: "stringValue" as const, value: "y" } }] },
  ],
};

type Rpc = "series" | "geo" | "asc" | "desc";

async function page(c: Client, rpc: Rpc, pageSize: number, pageToken: string, filtered = false) {
  const common = { module: MODULE, range: RANGE, pageSize, pageToken, ...(filtered ? FILTERS : {}) };
  if (rpc === "series") {
    const r = await c.querySeries({ ...common, interval: Interval.HOUR, groupBy: ["org"] });
    return {
      items: r.rows.map((x) => JSON.stringify([ms(x.bucketStart), x.group, x.value])),
      next: r.nextPageToken,
    };
  }
  if (rpc === "geo") {
    const r = await c.queryGeo({ ...common, cellDegrees: 5 });
    return { items: r.bins.map((x) => JSON.stringify(x)), next: r.nextPageToken };
  }
  const r = await c.listEvents({ ...common, order: rpc === "desc" ? Order.DESC : Order.ASC });
  return {
    items: r.events.map((x) => JSON.stringify([x.id, x.type, ms(x.time), x.data, x.location])),
    next: r.nextPageToken,
  };
}

const BIG: Record<Rpc, number> = { series: 10_000, geo: 10_000, asc: 1000, desc: 1000 };

/** All pages; page n is asked for with sizes[n % sizes.length] over cs[n % cs.length]. */
async function allPages(
  cs: readonly Client[],
  rpc: Rpc,
  sizes: number[],
  between: (n: number) => Promise<void>,
  filtered = false,
) {
  const items: string[] = [];
  let token = "";
  for (let n = 0; ; n++) {
    const size = sizes[n % sizes.length]!;
    const p = await page(cs[n % cs.length]!, rpc, size, token, filtered);
    // A page is full unless it is the last; the last one may be exactly full.
    if (p.next) expect(p.items.length).toBe(size);
    items.push(...p.items);
    if (!p.next) return items;
    expect(n).toBeLessThan(500);
    await between(n);
    token = p.next;
  }
}

describe("pagination properties", () => {
  for (const [rpc, stepped] of (["series", "geo", "asc", "desc"] as const).flatMap((r) => [
    [r, false] as const,
    [r, true] as const,
  ])) {
    it(`${rpc}${stepped ? " in steps" : ""}: all pages at any sizes, over JSON and binary, equal the first page's snapshot, with writes and compactions between`, async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(arbBatch, { maxLength: 12 }),
          fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 3 }),
          fc.array(arbBetween, { maxLength: 4 }),
          fc.boolean(),
          fc.boolean(),
          async (initial, sizes, betweens, mixed, filtered) => {
            const [c, binary] = clients(stepped);
            for (const batch of initial) await write(c, batch);
            const whole = await page(c, rpc, BIG[rpc], "", filtered);
            expect(whole.next).toBe("");
            const got = await allPages(
              mixed ? [c, binary] : [c],
              rpc,
              sizes,
              async (n) => {
                for (const step of betweens[n] ?? []) {
                  if (step === "compact") await c.compact({ module: MODULE });
                  else if (typeof step === "number")
                    await c.compact({ module: MODULE, range: dayRange(step) });
                  else await write(c, step);
                }
              },
              filtered,
            );
            expect(got).toEqual(whole.items);
          },
        ),
        { numRuns: Number(process.env.RUNS ?? 40) },
      );
    }, 120_000);
  }
});

describe("DeleteData between pages", () => {
  // What a deleted event's later pages show is not in the contract (a snapshot cannot keep what was
  // deleted); what holds: nothing deleted comes back, nothing repeats, and the order is kept.
  for (const rpc of ["asc", "desc"] as const) {
    it(`${rpc}: the pages after a DeleteData hold no deleted or new event, and nothing repeats`, async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(arbBatch, { minLength: 1, maxLength: 6 }),
          fc.integer({ min: 1, max: 5 }),
          fc.nat(4),
          arbBatch,
          async (initial, size, at, after) => {
            const [c] = clients();
            for (const batch of initial) await write(c, batch);
            const whole = await page(c, rpc, BIG[rpc], "");
            let deletedAt = -1;
            const got = await allPages([c], rpc, [size], async (n) => {
              if (n !== at) return;
              deletedAt = n;
              await c.deleteData({ module: MODULE });
              await write(c, after);
            });
            expect(new Set(got).size).toBe(got.length);
            if (deletedAt >= 0) expect(got).toEqual(whole.items.slice(0, (deletedAt + 1) * size));
            else expect(got).toEqual(whole.items);
          },
        ),
        { numRuns: Number(process.env.RUNS ?? 40) },
      );
    }, 120_000);
  }
});
