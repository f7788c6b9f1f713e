/**
 * The benchmark's fixed query suite, each as a Tally store call and as the DuckDB SQL with the same
 * semantics, plus one answer form both are turned into so that they can be compared value by value.
 *
 * Semantics matched on the SQL side: [start, end) ranges; UTC buckets (date_trunc on TIMESTAMP, weeks from
 * Monday); `supplies.name = X` as "some element's name is X"; unique counts ignore missing values; circles by
 * haversine on a sphere of 6,371,008.8 m, computed in the order store/geo.ts does; geo cells
 * floor(lat / cell), floor(lon / cell) with mean positions, ordered by count desc, then cell; ListEvents
 * ordered by (time, id).
 */
import { createHash } from "node:crypto";
import type { EventStore } from "../store/event-store.ts";
import { queryGeo } from "../store/geo-query.ts";
import { listEvents } from "../store/list-events.ts";
import type { GeoQuerySpec, ListSpec, Selection, SeriesSpec } from "../store/query-spec.ts";
import { querySeries } from "../store/series.ts";

export const START = Date.UTC(2026, 0, 1);
export const END = Date.UTC(2026, 6, 1);
export const DAY = 86_400_000;
export const TENANT = "default";
export const MODULE = "bench";
export const MAX_GROUPS = 10_000;
export const PAGE = 100;

/** A value (count, unique count) per bucket start and group; zero cells are left out on both sides. */
export interface SeriesAnswer {
  kind: "series";
  cells: Map<string, number>;
}
export interface GeoAnswer {
  kind: "geo";
  bins: { cellLat: number; cellLon: number; lat: number; lon: number; count: number }[];
}
export interface ListAnswer {
  kind: "list";
  rows: { id: string; type: string; time: number; lat: number | null; lon: number | null; org: string }[];
}
export type Answer = SeriesAnswer | GeoAnswer | ListAnswer;

type SeriesPart = Omit<SeriesSpec, keyof Selection>;
type TallyCall =
  | { kind: "series"; sel: Omit<Selection, "tenant" | "module" | "asOf">; series: SeriesPart }
  | { kind: "geo"; sel: Omit<Selection, "tenant" | "module" | "asOf">; cellDegrees: number; minCount: number }
  | { kind: "list"; sel: Omit<Selection, "tenant" | "module" | "asOf">; limit: number };

export interface BenchQuery {
  name: string;
  /** Whether the suite names it (the others are kept for continuity with earlier runs). */
  suite: boolean;
  /** Whether rollups should answer it: the bench fails its 20 ms target if rows were scanned (the target applies to every query rollups answer alone). */
  rollup?: boolean;
  tally: TallyCall;
  /** SQL over `src`: a table name or a read_parquet(...) call. */
  sql: (src: string) => string;
}

const seriesBase: SeriesPart = {
  interval: "day",
  timeZone: "UTC",
  weekStart: 1,
  groupBy: [],
  aggregation: { fn: "count", field: "" },
};
const full = { start: START, end: END, types: [], filters: [] };
const ts = (ms: number) => `TIMESTAMP '${new Date(ms).toISOString().replace("T", " ").replace("Z", "")}'`;
const range = (start: number, end: number) => `ts >= ${ts(start)} AND ts < ${ts(end)}`;
const bucket = (unit: string) => `epoch_ms(date_trunc('${unit}', ts))::DOUBLE`;
/** Buckets in a zone with a fixed offset (Asia/Kathmandu has been +5:45 since 1986). */
const zonedBucket = (unit: string, offsetMinutes: number) =>
  `epoch_ms(date_trunc('${unit}', ts + INTERVAL ${offsetMinutes} MINUTE) - INTERVAL ${offsetMinutes} MINUTE)::DOUBLE`;

const BERLIN = { lat: 52.52, lon: 13.405 };
const RADIUS = 50_000;
/** store/geo.ts's haversineMeters(center, point) term by term. */
const haversineSql = (lat: number, lon: number) => {
  const rad = "(pi() / 180)";
  const a = `pow(sin(((lat - ${lat}) * ${rad}) / 2), 2) + cos(${lat} * ${rad}) * cos(lat * ${rad}) * pow(sin(((lon - ${lon}) * ${rad}) / 2), 2)`;
  return `2 * 6371008.8 * asin(least(1, sqrt(${a})))`;
};

export const QUERIES: BenchQuery[] = [
  {
    name: "narrow: 30 days, org = org-3, hourly count",
    suite: true,
    tally: {
      kind: "series",
      sel: {
        ...full,
        start: START + 60 * DAY,
        end: START + 90 * DAY,
        filters: [{ field: "org", op: "eq", values: ["org-3"] }],
      },
      series: { ...seriesBase, interval: "hour" },
    },
    sql: (src) =>
      `SELECT ${bucket("hour")} AS b, count(*)::DOUBLE AS v FROM ${src}
       WHERE ${range(START + 60 * DAY, START + 90 * DAY)} AND org = 'org-3' GROUP BY 1`,
  },
  {
    name: "full range: supplies.name = Childcare, weekly by type",
    suite: true,
    tally: {
      kind: "series",
      sel: { ...full, filters: [{ field: "supplies.name", op: "eq", values: ["Childcare"] }] },
      series: { ...seriesBase, interval: "week", groupBy: ["type"] },
    },
    sql: (src) =>
      `SELECT ${bucket("week")} AS b, type AS g0, count(*)::DOUBLE AS v FROM ${src}
       WHERE ${range(START, END)} AND list_contains(list_transform(supplies, lambda s: s.name), 'Childcare')
       GROUP BY 1, 2`,
  },
  {
    name: "full range: by project, monthly COUNT_UNIQUE userId",
    suite: true,
    tally: {
      kind: "series",
      sel: full,
      series: {
        ...seriesBase,
        interval: "month",
        groupBy: ["project"],
        aggregation: { fn: "count_unique", field: "userId" },
      },
    },
    sql: (src) =>
      `SELECT ${bucket("month")} AS b, coalesce(project, '') AS g0, count(DISTINCT userId)::DOUBLE AS v
       FROM ${src} WHERE ${range(START, END)} GROUP BY 1, 2`,
  },
  {
    name: "full range: geo circle 50 km around Berlin, daily count",
    suite: true,
    tally: {
      kind: "series",
      sel: { ...full, geo: { kind: "circle", lat: BERLIN.lat, lon: BERLIN.lon, radiusMeters: RADIUS } },
      series: { ...seriesBase, interval: "day" },
    },
    sql: (src) =>
      `SELECT ${bucket("day")} AS b, count(*)::DOUBLE AS v FROM ${src}
       WHERE ${range(START, END)} AND lat IS NOT NULL AND ${haversineSql(BERLIN.lat, BERLIN.lon)} <= ${RADIUS}
       GROUP BY 1`,
  },
  {
    name: "full range: QueryGeo, 0.1° cells, min 10",
    suite: true,
    tally: { kind: "geo", sel: full, cellDegrees: 0.1, minCount: 10 },
    sql: (src) =>
      `SELECT floor(lat / 0.1)::DOUBLE AS cy, floor(lon / 0.1)::DOUBLE AS cx, avg(lat) AS lat, avg(lon) AS lon,
         count(*)::DOUBLE AS c
       FROM ${src} WHERE ${range(START, END)} AND lat IS NOT NULL
       GROUP BY 1, 2 HAVING count(*) >= 10 ORDER BY c DESC, cy, cx`,
  },
  {
    name: "ListEvents first page: full range, org = org-7, 100 events",
    suite: true,
    tally: {
      kind: "list",
      sel: { ...full, filters: [{ field: "org", op: "eq", values: ["org-7"] }] },
      limit: PAGE,
    },
    sql: (src) =>
      `SELECT id, type, epoch_ms(ts)::DOUBLE AS t, lat, lon, org FROM ${src}
       WHERE ${range(START, END)} AND org = 'org-7' ORDER BY ts, id LIMIT ${PAGE}`,
  },
  {
    name: "rollup: full range, org in (org-1, org-2), daily by project, Asia/Kathmandu (+5:45)",
    suite: false,
    rollup: true,
    tally: {
      kind: "series",
      sel: { ...full, filters: [{ field: "org", op: "eq", values: ["org-1", "org-2"] }] },
      series: { ...seriesBase, interval: "day", timeZone: "Asia/Kathmandu", groupBy: ["project"] },
    },
    sql: (src) =>
      `SELECT ${zonedBucket("day", 345)} AS b, project AS g0, count(*)::DOUBLE AS v FROM ${src}
       WHERE ${range(START, END)} AND org IN ('org-1', 'org-2') GROUP BY 1, 2`,
  },
  {
    name: "rollup: full range, needs = Food, weekly by type × org",
    suite: false,
    rollup: true,
    tally: {
      kind: "series",
      sel: { ...full, filters: [{ field: "needs", op: "eq", values: ["Food"] }] },
      series: { ...seriesBase, interval: "week", groupBy: ["type", "org"] },
    },
    sql: (src) =>
      `SELECT ${bucket("week")} AS b, type AS g0, org AS g1, count(*)::DOUBLE AS v FROM ${src}
       WHERE ${range(START, END)} AND list_contains(needs, 'Food') GROUP BY 1, 2, 3`,
  },
  {
    name: "rollup: full range, monthly by supplies.name",
    suite: false,
    rollup: true,
    tally: {
      kind: "series",
      sel: full,
      series: { ...seriesBase, interval: "month", groupBy: ["supplies.name"] },
    },
    // Each event counts once per distinct name it has, and once under "" when it has none.
    sql: (src) =>
      `SELECT b, g0, count(*)::DOUBLE AS v FROM (SELECT DISTINCT id, b, g0 FROM (
         SELECT id, ${bucket("month")} AS b,
           unnest(CASE WHEN len(supplies) > 0 THEN list_transform(supplies, lambda s: s.name) ELSE [''] END) AS g0
         FROM ${src} WHERE ${range(START, END)})) GROUP BY 1, 2`,
  },
  {
    name: "full scan: daily count, all events",
    suite: false,
    tally: { kind: "series", sel: full, series: { ...seriesBase, interval: "day" } },
    sql: (src) =>
      `SELECT ${bucket("day")} AS b, count(*)::DOUBLE AS v FROM ${src} WHERE ${range(START, END)} GROUP BY 1`,
  },
];

const seriesKey = (bucketStart: number, group: readonly string[]) =>
  `${bucketStart}\u0001${group.join("\u0001")}`;

/** Runs one query against the store; `answer` turns the raw result into the compared form (untimed). */
export async function runTally(
  store: EventStore,
  q: BenchQuery,
  asOf: number,
  /** False: series count every segment afresh, reusing no rollup counts kept for the shape. */
  reuse = true,
): Promise<{ raw: unknown; answer: () => Answer; rollupStats?: { rollup: number; rows: number } }> {
  const call = q.tally;
  const sel = { ...call.sel, tenant: TENANT, module: MODULE, asOf };
  if (call.kind === "series") {
    const stats = { rollup: 0, rows: 0 };
    const r = await querySeries(
      store,
      { ...sel, ...call.series } as SeriesSpec,
      { maxGroups: MAX_GROUPS },
      { stats, reuse },
    );
    return {
      raw: r,
      rollupStats: stats,
      answer: () => {
        const cells = new Map<string, number>();
        for (let b = 0; b < r.starts.length; b++)
          for (let g = 0; g < r.groups.length; g++) {
            const v = r.value(b, g);
            if (v !== 0) cells.set(seriesKey(r.starts[b]!, r.groups[g]!), v);
          }
        return { kind: "series", cells };
      },
    };
  }
  if (call.kind === "geo") {
    const bins = await queryGeo(store, {
      ...sel,
      cellDegrees: call.cellDegrees,
      minCount: call.minCount,
    } as GeoQuerySpec);
    return { raw: bins, answer: () => ({ kind: "geo", bins }) };
  }
  const page = await listEvents(store, { ...sel, order: "asc" } as ListSpec, call.limit, undefined);
  return {
    raw: page,
    answer: () => ({
      kind: "list",
      rows: page.events.map((e) => ({
        id: e.id,
        type: e.type,
        time: e.time,
        lat: Number.isNaN(e.lat) ? null : e.lat,
        lon: Number.isNaN(e.lon) ? null : e.lon,
        org: String(e.data.org),
      })),
    }),
  };
}

/** DuckDB's rows (as JS values) in the same answer form. */
export function duckAnswer(q: BenchQuery, rows: Record<string, unknown>[]): Answer {
  const call = q.tally;
  if (call.kind === "series") {
    const cells = new Map<string, number>();
    const groups = call.series.groupBy.length;
    for (const row of rows) {
      const group = Array.from({ length: groups }, (_, i) => String(row[`g${i}`]));
      const v = Number(row.v);
      if (v !== 0) cells.set(seriesKey(Number(row.b), group), v);
    }
    return { kind: "series", cells };
  }
  if (call.kind === "geo") {
    return {
      kind: "geo",
      bins: rows.map((r) => ({
        cellLat: Number(r.cy),
        cellLon: Number(r.cx),
        lat: Number(r.lat),
        lon: Number(r.lon),
        count: Number(r.c),
      })),
    };
  }
  return {
    kind: "list",
    rows: rows.map((r) => ({
      id: String(r.id),
      type: String(r.type),
      time: Number(r.t),
      lat: r.lat === null ? null : Number(r.lat),
      lon: r.lon === null ? null : Number(r.lon),
      org: String(r.org),
    })),
  };
}

const close = (a: number, b: number) =>
  a === b || Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b));

/** Throws, naming the first difference, unless the answers agree (counts exactly, means within 1e-9). */
export function assertSameAnswer(name: string, tally: Answer, duck: Answer): void {
  const fail = (what: string): never => {
    throw new Error(`ANSWER MISMATCH in "${name}": ${what}`);
  };
  if (tally.kind !== duck.kind) fail(`kinds ${tally.kind} / ${duck.kind}`);
  if (tally.kind === "series" && duck.kind === "series") {
    if (tally.cells.size !== duck.cells.size)
      fail(`Tally has ${tally.cells.size} non-zero cells, DuckDB ${duck.cells.size}`);
    for (const [k, v] of tally.cells) {
      const d = duck.cells.get(k);
      if (d !== v) fail(`cell ${JSON.stringify(k)}: Tally ${v}, DuckDB ${d}`);
    }
  } else if (tally.kind === "geo" && duck.kind === "geo") {
    if (tally.bins.length !== duck.bins.length)
      fail(`Tally has ${tally.bins.length} bins, DuckDB ${duck.bins.length}`);
    tally.bins.forEach((t, i) => {
      const d = duck.bins[i]!;
      if (t.cellLat !== d.cellLat || t.cellLon !== d.cellLon || t.count !== d.count)
        fail(`bin ${i}: Tally ${JSON.stringify(t)}, DuckDB ${JSON.stringify(d)}`);
      if (!close(t.lat, d.lat) || !close(t.lon, d.lon))
        fail(`bin ${i} mean: Tally ${t.lat},${t.lon}, DuckDB ${d.lat},${d.lon}`);
    });
  } else if (tally.kind === "list" && duck.kind === "list") {
    if (tally.rows.length !== duck.rows.length)
      fail(`Tally listed ${tally.rows.length} events, DuckDB ${duck.rows.length}`);
    tally.rows.forEach((t, i) => {
      const d = duck.rows[i]!;
      if (JSON.stringify(t) !== JSON.stringify(d))
        fail(`event ${i}: Tally ${JSON.stringify(t)}, DuckDB ${JSON.stringify(d)}`);
    });
  }
}

/** How many rows/bins/cells an answer has (for the table). */
export function answerSize(a: Answer): number {
  return a.kind === "series" ? a.cells.size : a.kind === "geo" ? a.bins.length : a.rows.length;
}

/** A digest of an answer, to check that a cold run in another process answered the same. */
export function answerDigest(a: Answer): string {
  const body =
    a.kind === "series"
      ? [...a.cells].sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))
      : a.kind === "geo"
        ? a.bins
        : a.rows;
  return createHash("sha256").update(JSON.stringify(body)).digest("hex").slice(0, 16);
}
