import { createStorage } from "unstorage";
import { beforeAll, describe, expect, it } from "vitest";
import { generateEvents } from "../scripts/bench-data.ts";
import { memoryDriver } from "../storage-drivers/memory.ts";
import { compactModule } from "./compaction.ts";
import { deleteData } from "./deletion.ts";
import { EventStore } from "./event-store.ts";
import { eventRows, eventRowsAfter, eventsHeader } from "./export-events.ts";
import { queryGeo } from "./geo-query.ts";
import { dayOf } from "./keys.ts";
import { type EventCursor, listEvents } from "./list-events.ts";
import type { AggregationFn, GeoQuerySpec, ListSpec, SeriesSpec } from "./query-spec.ts";
import { querySeries } from "./series.ts";
import {
  EXPORT_STEP_ROWS,
  exportEventsStepped,
  listEventsStepped,
  queryGeoStepped,
  querySeriesStepped,
  runStep,
  type Step,
} from "./stepped-query.ts";

const START = Date.UTC(2026, 2, 1);
const END = Date.UTC(2026, 3, 15);
const store = new EventStore({ storage: createStorage({ driver: memoryDriver() }) });

beforeAll(async () => {
  const events = generateEvents(6000, { seed: 7, start: START, end: END }).filter(
    (e) => e.module === "mod-disco",
  );
  for (let i = 0; i < events.length; i += 250)
    await store.record("acme", "mod-disco", events.slice(i, i + 250));
});

const selection = () => ({
  tenant: "acme",
  module: "mod-disco",
  start: START + 3_600_000,
  end: END - 7_200_000,
  types: [],
  filters: [],
  asOf: store.now(),
});

function series(fn: AggregationFn, extra: Partial<SeriesSpec> = {}): SeriesSpec {
  return {
    ...selection(),
    interval: "week",
    timeZone: "Europe/Berlin",
    weekStart: 1,
    groupBy: ["org"],
    aggregation: { fn, field: fn === "count_unique" ? "userId" : "supplies.value" },
    ...extra,
  };
}

/** Runs steps in process, each through JSON (as between Worker invocations), counting them. */
function runner(maxEvents: number, between?: () => Promise<void>) {
  const taken: Step[] = [];
  const run = async (step: Step) => {
    const next = await runStep(store, JSON.parse(JSON.stringify(step)) as Step, maxEvents);
    taken.push(next);
    await between?.();
    return JSON.parse(JSON.stringify(next)) as Step;
  };
  return { run, taken };
}

/** The store, as seen through a count of the events of the partitions a scan reads. */
function counting(inner: EventStore) {
  const checked = { events: 0 };
  const watched = new Proxy(inner, {
    get(target, name) {
      if (name === "partitions")
        return async function* (...args: Parameters<EventStore["partitions"]>) {
          for await (const p of target.partitions(...args)) {
            for (const s of p.segments) checked.events += s.segment.count;
            yield p;
          }
        };
      const value = Reflect.get(target, name, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { store: watched, checked };
}

const rows = (r: Awaited<ReturnType<typeof querySeries>>) =>
  Array.from(r.starts).flatMap((start, b) => r.groups.map((group, g) => [start, group, r.value(b, g)]));

describe("stepped aggregation", () => {
  // Counts that rollups answer (rollup-query.ts) take no budget, so they may finish in one step; every
  // other case must take many steps of one event.
  const rollupServed = new Set(["count, ungrouped", "count by org and supply"]);
  const cases: [string, () => SeriesSpec][] = [
    ["count, ungrouped", () => series("count", { groupBy: [] })],
    ["count by org and supply", () => series("count", { groupBy: ["org", "supplies.name"] })],
    [
      "count where supplies.value >= 3 (rows, not rollups)",
      () => series("count", { filters: [{ field: "supplies.value", op: "gte", values: [3] }] }),
    ],
    ["count_unique of userId by org", () => series("count_unique")],
    [
      "count_unique of supplies (objects) in total",
      () =>
        series("count_unique", {
          interval: "total",
          groupBy: [],
          aggregation: { fn: "count_unique", field: "supplies" },
        }),
    ],
    ["sum", () => series("sum")],
    ["count of a module with no events", () => series("count", { module: "empty", groupBy: [] })],
    ["avg by day", () => series("avg", { interval: "day" })],
    ["min", () => series("min")],
    ["max", () => series("max")],
  ];
  for (const [name, makeSpec] of cases) {
    it(`QuerySeries ${name}: every step size gives the unbounded answer exactly`, async () => {
      const spec = makeSpec();
      const whole = rows(await querySeries(store, spec, { maxGroups: 10_000 }));
      expect(whole.some((r) => r[2] !== 0)).toBe(spec.module !== "empty");
      expect(whole.length).toBeGreaterThan(0);
      for (const maxEvents of [1, 300, 5_000]) {
        const { run, taken } = runner(maxEvents);
        expect(rows(await querySeriesStepped(spec, { maxGroups: 10_000 }, run))).toEqual(whole);
        if (maxEvents === 1 && spec.module !== "empty" && !rollupServed.has(name))
          expect(taken.length).toBeGreaterThan(30);
      }
    });
  }

  it("QueryGeo: steps give the unbounded bins exactly", async () => {
    const spec: GeoQuerySpec = { ...selection(), cellDegrees: 0.5, minCount: 2 };
    const whole = await queryGeo(store, spec);
    expect(whole.length).toBeGreaterThan(5);
    for (const maxEvents of [1, 400]) {
      const { run, taken } = runner(maxEvents);
      expect(await queryGeoStepped(spec, run)).toEqual(whole);
      expect(taken.length).toBeGreaterThan(1);
    }
  });

  it("stays exact when compaction rewrites partitions and new events arrive between steps", async () => {
    const spec = series("count_unique");
    const whole = rows(await querySeries(store, spec, { maxGroups: 10_000 }));
    let round = 0;
    const { run, taken } = runner(200, async () => {
      round++;
      await store.record("acme", "mod-disco", [
        {
          id: `late-${round}`,
          type: "enrolled",
          time: START + round * 86_400_000,
          data: { userId: `late-${round}`, org: "org-1" },
          lat: NaN,
          lon: NaN,
        },
      ]);
      await compactModule(store, "acme", "mod-disco");
    });
    expect(rows(await querySeriesStepped(spec, { maxGroups: 10_000 }, run))).toEqual(whole);
    expect(taken.length).toBeGreaterThan(3);
  });

  it("counts partitions without matches against a step's budget", async () => {
    // No event holds a value this large: every partition's rows are checked and none matches.
    const spec = series("count", { filters: [{ field: "supplies.value", op: "gte", values: [1_000] }] });
    const whole = rows(await querySeries(store, spec, { maxGroups: 10_000 }));
    const { run, taken } = runner(300);
    expect(rows(await querySeriesStepped(spec, { maxGroups: 10_000 }, run))).toEqual(whole);
    expect(taken.length).toBeGreaterThan(5);
  });

  it("keeps the group limit across steps", async () => {
    const spec = series("count", { groupBy: ["userId"] });
    await expect(querySeriesStepped(spec, { maxGroups: 50 }, runner(1).run)).rejects.toThrow(
      /more than 50 groups/,
    );
  });
});

describe("stepped events export", () => {
  const text = async (chunks: AsyncIterable<string>) => {
    let all = "";
    for await (const chunk of chunks) all += chunk;
    return all;
  };
  const list = (extra: Partial<ListSpec> = {}): ListSpec => ({ ...selection(), order: "asc", ...extra });
  const rowSteps = (taken: Step[]) => taken.filter((s) => s.kind === "rows").length;
  // Columns only a day or two have: a columns pass that missed a day would miss them.
  const RARE = ["rare.d3", "rare.d17", "rare.d18", "rare.d40"];
  beforeAll(async () => {
    await store.record(
      "acme",
      "mod-disco",
      RARE.map((path, k) => {
        const day = Number(path.slice(6));
        return {
          id: `rare-${k}`,
          type: "enrolled",
          time: START + day * 86_400_000 + 3_600_000,
          data: { org: "org-2", supplies: [{ value: 9 }], rare: { [`d${day}`]: k } },
          lat: NaN,
          lon: NaN,
        };
      }),
    );
  });

  const cases: [string, () => ListSpec, string[], number[]][] = [
    ["every column, ascending", () => list(), [], [50, 300, 5_000]],
    [
      "requested columns, descending, filtered",
      () => list({ order: "desc", filters: [{ field: "org", op: "eq", values: ["org-2"] }] }),
      ["userId", "supplies.0.name", "needs.1", "absent.path"],
      [1, 70],
    ],
    [
      "every column of a filtered few, one event a step",
      () => list({ filters: [{ field: "supplies.value", op: "gte", values: [9] }] }),
      [],
      [1],
    ],
  ];
  for (const [name, spec, columns, sizes] of cases) {
    it(`${name}: every step size gives the one-go text exactly`, async () => {
      const whole = await text(eventRows(store, spec(), columns));
      expect(whole.split("\r\n").length).toBeGreaterThan(10);
      const header = whole.slice(0, whole.indexOf("\r\n")).split(",");
      if (columns.length === 0) expect(header).toEqual(expect.arrayContaining(RARE));
      for (const maxEvents of sizes) {
        const { run, taken } = runner(maxEvents);
        expect(await text(exportEventsStepped(spec(), columns, run))).toBe(whole);
        // Steps of fewer rows than a day holds split days (a cursor inside a partition).
        expect(rowSteps(taken)).toBeGreaterThan(maxEvents < 5_000 ? 2 : 0);
        if (columns.length > 0) expect(taken.some((s) => s.kind === "columns")).toBe(false);
      }
    });
  }

  it("stays exact when compaction rewrites partitions and new events arrive between steps", async () => {
    const spec = list({ order: "desc" });
    const whole = await text(eventRows(store, spec, []));
    let round = 0;
    const { run, taken } = runner(120, async () => {
      round++;
      await store.record("acme", "mod-disco", [
        {
          id: `late-export-${round}`,
          type: "enrolled",
          time: START + (round % 40) * 86_400_000 + 5_000_000,
          data: { userId: `late-${round}`, newField: round },
          lat: NaN,
          lon: NaN,
        },
      ]);
      await compactModule(store, "acme", "mod-disco");
    });
    expect(await text(exportEventsStepped(spec, [], run))).toBe(whole);
    expect(rowSteps(taken)).toBeGreaterThan(3);
    expect(taken.filter((s) => s.kind === "columns").length).toBeGreaterThan(3);
  });

  it("ends a step's rows at the row that reaches its text limit, and the next goes on from there", async () => {
    const spec = list({ order: "desc" });
    const whole = await text(eventRows(store, spec, []));
    const columns = whole.slice(0, whole.indexOf("\r\n")).split(",").slice(5);
    let all = "";
    let cursor: EventCursor | undefined;
    let steps = 0;
    for (let more = true; more; steps++) {
      const step = await eventRowsAfter(store, spec, columns, 1_000, cursor, 2_000);
      const rows = step.csv.split("\r\n").slice(0, -1);
      // Under the limit before its last row.
      expect(step.csv.length - rows.at(-1)!.length - 2).toBeLessThan(2_000);
      all += step.csv;
      ({ cursor, more } = step);
    }
    expect(eventsHeader(columns) + all).toBe(whole);
    expect(steps).toBeGreaterThan(whole.length / 2_500);
  });

  it("checks at most a step's events (and the partition it is in) in a rows step of a selective filter", async () => {
    // One event matches, on day 40: a rows step must not check the 39 days before it in one invocation.
    for (const order of ["asc", "desc"] as const) {
      const spec = list({ order, filters: [{ field: "rare.d40", op: "exists", values: [] }] });
      const whole = await text(eventRows(store, spec, ["rare.d40"]));
      expect(whole.split("\r\n").length).toBe(3);
      const { store: watched, checked } = counting(store);
      let largest = 0;
      for await (const p of store.partitions("acme", "mod-disco", spec.start, spec.end))
        largest = Math.max(
          largest,
          p.segments.reduce((n, s) => n + s.segment.count, 0),
        );
      const perStep: number[] = [];
      const run = async (step: Step) => {
        checked.events = 0;
        const next = await runStep(watched, JSON.parse(JSON.stringify(step)) as Step, 300);
        perStep.push(checked.events);
        return JSON.parse(JSON.stringify(next)) as Step;
      };
      expect(await text(exportEventsStepped(spec, ["rare.d40"], run))).toBe(whole);
      expect(perStep.length).toBeGreaterThan(3);
      expect(Math.max(...perStep)).toBeLessThan(300 + largest);
    }
  });

  it("takes at most EXPORT_STEP_ROWS rows a step, whatever the step size", async () => {
    const spec = list();
    const { run, taken } = runner(1_000_000);
    const whole = await text(eventRows(store, spec, ["userId"]));
    expect(await text(exportEventsStepped(spec, ["userId"], run))).toBe(whole);
    const written = taken.map((s) => (s.kind === "rows" ? (s.csv?.split("\r\n").length ?? 1) - 1 : 0));
    expect(Math.max(...written)).toBeLessThanOrEqual(EXPORT_STEP_ROWS);
    expect(written.reduce((a, b) => a + b, 0)).toBe(whole.split("\r\n").length - 2);
  });
});

describe("stepped ListEvents pages", () => {
  const list = (extra: Partial<ListSpec> = {}): ListSpec => ({ ...selection(), order: "asc", ...extra });
  const cases: [string, () => ListSpec][] = [
    ["ascending", () => list()],
    ["descending", () => list({ order: "desc" })],
    [
      "a selective filter, descending",
      () => list({ order: "desc", filters: [{ field: "supplies.value", op: "gte", values: [9] }] }),
    ],
    ["a filter nothing matches", () => list({ filters: [{ field: "org", op: "eq", values: ["org-404"] }] })],
    ["a box", () => list({ geo: { kind: "box", south: 40, west: -10, north: 60, east: 30 } })],
  ];
  for (const [name, spec] of cases) {
    it(`${name}: every page, in steps of 1 and 300 events, equals the page in one go`, async () => {
      for (const limit of [1, 7, 100]) {
        // Page through the first few pages both ways, each from the other's cursor.
        let cursor: EventCursor | undefined;
        for (let page = 0; page < 3; page++) {
          const whole = await listEvents(store, spec(), limit, cursor);
          for (const maxEvents of [1, 300]) {
            const { run } = runner(maxEvents);
            expect(await listEventsStepped(spec(), limit, cursor, run)).toEqual(whole);
          }
          const last = whole.events.at(-1);
          if (!whole.more || !last) break;
          cursor = { time: last.time, id: last.id };
        }
      }
    });
  }

  it("takes many steps for a page a selective filter fills slowly, and keeps locations absent", async () => {
    const spec = list({ filters: [{ field: "supplies.value", op: "gte", values: [9] }] });
    const whole = await listEvents(store, spec, 60, undefined);
    expect(whole.more).toBe(true);
    // Steps of one partition: the page's events span more days than that many steps.
    const days = new Set(whole.events.map((e) => Math.floor(e.time / 86_400_000))).size;
    expect(days).toBeGreaterThan(3);
    const { run, taken } = runner(1);
    const stepped = await listEventsStepped(spec, 60, undefined, run);
    expect(stepped).toEqual(whole);
    expect(taken.length).toBeGreaterThanOrEqual(days);
    expect(stepped.events.some((e) => Number.isNaN(e.lat))).toBe(true);
  });
});

describe("stepped answers keep -0 (a location, a minimum)", () => {
  // The API stores -0 as sent (a client's `-0.0` longitude on the Greenwich meridian), and protobuf writes
  // -0 on the wire as -0: steps carry it through JSON, which writes -0 as 0.
  const zero = new EventStore({ storage: createStorage({ driver: memoryDriver() }) });
  beforeAll(async () => {
    for (const [k, day] of [0, 0, 1, 2].entries())
      await zero.record("acme", "m", [
        {
          id: `z${k}`,
          type: "t",
          time: START + day * 86_400_000 + k,
          data: { v: k === 3 ? 1 : -0 },
          lat: -0,
          lon: k === 3 ? 5 : -0,
        },
      ]);
  });
  const sel = () => ({
    tenant: "acme",
    module: "m",
    start: START,
    end: END,
    types: [],
    filters: [],
    asOf: zero.now(),
  });
  const run = (step: Step) =>
    runStep(zero, JSON.parse(JSON.stringify(step)) as Step, 1).then(
      (s) => JSON.parse(JSON.stringify(s)) as Step,
    );

  it("QueryGeo: a bin at -0 stays at -0", async () => {
    const spec: GeoQuerySpec = { ...sel(), cellDegrees: 1, minCount: 1 };
    const whole = await queryGeo(zero, spec);
    expect(Object.is(whole.find((b) => b.count === 3)?.lon, -0)).toBe(true);
    expect(await queryGeoStepped(spec, run)).toEqual(whole);
  });

  it("QuerySeries: a minimum or maximum of -0 stays -0", async () => {
    for (const fn of ["min", "max"] as const) {
      const spec: SeriesSpec = {
        ...sel(),
        interval: "day",
        timeZone: "UTC",
        weekStart: 1,
        groupBy: [],
        aggregation: { fn, field: "v" },
      };
      const whole = rows(await querySeries(zero, spec, { maxGroups: 10 }));
      expect(whole.filter((r) => Object.is(r[2], -0)).length).toBe(2);
      expect(rows(await querySeriesStepped(spec, { maxGroups: 10 }, run))).toEqual(whole);
    }
  });

  it("ListEvents: an event at -0 stays at -0", async () => {
    for (const order of ["asc", "desc"] as const) {
      const spec: ListSpec = { ...sel(), order };
      const whole = await listEvents(zero, spec, 10, undefined);
      expect(whole.events.filter((e) => Object.is(e.lat, -0)).length).toBe(4);
      expect(await listEventsStepped(spec, 10, undefined, run)).toEqual(whole);
    }
  });
});

describe("deletion and retention between steps", () => {
  // DeleteData and retention hide data from every reader at once, whatever a query's snapshot: the answer
  // of a query in steps is the one-pass answer of the store as it is once the deletion is there, not a
  // mix of earlier steps that counted the deleted events and later ones that did not.
  const DAY = 86_400_000;
  let clock = 0;
  async function fresh(retentionDays: number | undefined) {
    const s = new EventStore({
      storage: createStorage({ driver: memoryDriver() }),
      now: () => (clock += 0.5),
      retentionDays: () => retentionDays,
    });
    const events = generateEvents(1_500, { seed: 11, start: START, end: START + 20 * DAY }).filter(
      (e) => e.module === "mod-disco",
    );
    for (let i = 0; i < events.length; i += 300)
      await s.record("acme", "mod-disco", events.slice(i, i + 300));
    return s;
  }
  /** Steps of 50 events; `change` runs once, after the first step that has gone past day 5. */
  function changing(s: EventStore, change: () => Promise<unknown>) {
    let changed = false;
    return async (step: Step) => {
      const next = await runStep(s, JSON.parse(JSON.stringify(step)) as Step, 50);
      if (!changed && next.kind !== "rows" && !next.done && next.from > START + 5 * DAY) {
        changed = true;
        await change();
      }
      return JSON.parse(JSON.stringify(next)) as Step;
    };
  }
  const changes: [string, number | undefined, (s: EventStore) => Promise<unknown>][] = [
    [
      "DeleteData of day 3",
      undefined,
      (s) => deleteData(s, { tenant: "acme", module: "mod-disco", day: dayOf(START + 3 * DAY) }),
    ],
    // Retention keeps 6 days: day 2 on from day 8, day 4 on from day 10.
    [
      "retention's first day passing days 2 and 3",
      6,
      async () => {
        clock = START + 10 * DAY + 1;
      },
    ],
  ];
  const specs = (s: EventStore) => {
    const sel = {
      tenant: "acme",
      module: "mod-disco",
      start: START,
      end: START + 20 * DAY,
      types: [],
      filters: [],
      asOf: s.now(),
    };
    const series: SeriesSpec = {
      ...sel,
      interval: "day",
      timeZone: "UTC",
      weekStart: 1,
      groupBy: ["org"],
      aggregation: { fn: "count_unique", field: "userId" },
    };
    return {
      series,
      geo: { ...sel, cellDegrees: 1, minCount: 1 },
      list: { ...sel, order: "asc" } as ListSpec,
    };
  };
  const kinds: [
    string,
    (s: EventStore, q: ReturnType<typeof specs>, run?: (step: Step) => Promise<Step>) => Promise<unknown>,
  ][] = [
    [
      "QuerySeries",
      async (s, q, run) =>
        rows(
          await (run
            ? querySeriesStepped(q.series, { maxGroups: 1_000 }, run)
            : querySeries(s, q.series, { maxGroups: 1_000 })),
        ),
    ],
    ["QueryGeo", (s, q, run) => (run ? queryGeoStepped(q.geo, run) : queryGeo(s, q.geo))],
    [
      "a ListEvents page",
      (s, q, run) =>
        run ? listEventsStepped(q.list, 1_000, undefined, run) : listEvents(s, q.list, 1_000, undefined),
    ],
  ];
  it("gives up (unavailable, retry) on a query that deletions keep starting again", async () => {
    clock = START + 8 * DAY;
    const s = await fresh(undefined);
    const q = specs(s);
    let k = 0;
    const run = async (step: Step) => {
      const next = await runStep(s, JSON.parse(JSON.stringify(step)) as Step, 50);
      await deleteData(s, { tenant: "acme", module: "mod-disco", day: dayOf(START + (k++ % 20) * DAY) });
      return JSON.parse(JSON.stringify(next)) as Step;
    };
    await expect(querySeriesStepped(q.series, { maxGroups: 1_000 }, run)).rejects.toThrow(
      /deleted while it ran; retry/,
    );
    // Each start's first step notes the deletion before it; its second finds the next: three starts again,
    // and the fourth is refused.
    expect(k).toBe(7);
  });

  for (const [change, retention, apply] of changes) {
    for (const [kind, answer] of kinds) {
      it(`${kind}: ${change} between steps gives the one-pass answer after it`, async () => {
        clock = START + 8 * DAY;
        const s = await fresh(retention);
        const q = specs(s);
        const before = await answer(s, q);
        const stepped = await answer(
          s,
          q,
          changing(s, () => apply(s)),
        );
        const after = await answer(s, q);
        expect(after).not.toEqual(before);
        expect(stepped).toEqual(after);
      });
    }
  }
});
