/**
 * Aggregations in bounded steps, for runtimes that cap the CPU time of one invocation (Workers).
 *
 * A step aggregates whole partitions (UTC days) from its `from` instant on, until it has scanned
 * `maxEvents` events, and returns the exact partial state — counts, sums, the distinct values of a unique
 * count, geo cell sums — with the instant the next step starts from. Whoever runs the steps (in process,
 * or a Worker calling itself so that each step gets a fresh CPU budget) passes that state back in, and the
 * last step's state is the whole answer. Steps never split a partition, so compaction between two steps
 * (which rewrites a partition's segments but not its events) cannot make a step count an event twice or
 * miss one, and every step reads the query's snapshot (`asOf`), so later writes stay invisible.
 * Sums continue from the carried value in the same order as one unbounded scan: results are identical.
 */
import type { EventStore } from "./event-store.ts";
import { accumulateGeo, type GeoBin, GeoCells, geoBins } from "./geo-query.ts";
import { dayStart } from "./keys.ts";
import type { GeoQuerySpec, SeriesSpec } from "./query-spec.ts";
import { LOCATION, scan } from "./scan.ts";
import {
  accumulateSeries,
  rollupClaim,
  type SeriesResult,
  type SeriesState,
  seriesAccumulator,
  seriesFields,
  seriesStarts,
} from "./series.ts";

const DAY_MS = 86_400_000;

/** One step's work order and, once run, its result: `done`, or the state and where to go on. */
export type Step =
  | { kind: "series"; spec: SeriesSpec; maxGroups: number; from: number; done: boolean; state?: SeriesState }
  | { kind: "geo"; spec: GeoQuerySpec; from: number; done: boolean; state?: GeoState };

/** Geo cells as `[cellLat, cellLon, latSum, lonSum, count]`. */
export type GeoState = [number, number, number, number, number][];

/** Runs one step somewhere (in process, or in a fresh Worker invocation) and returns the next. */
export type StepRunner = (step: Step) => Promise<Step>;

/** Runs one step here: aggregates from `step.from` until `maxEvents` events have been scanned. */
export async function runStep(store: EventStore, step: Step, maxEvents: number): Promise<Step> {
  let scanned = 0;
  const sel = { ...step.spec, start: Math.max(step.spec.start, step.from) };
  if (step.kind === "series") {
    const starts = seriesStarts(step.spec);
    const acc = seriesAccumulator(step.spec, starts, step);
    if (step.state) acc.load(step.state);
    // Segments a rollup answers are counted from it as the scan meets them (they cost no budget).
    const claim = rollupClaim(acc, starts, step.spec);
    for await (const partition of scan(store, sel, { claim, fields: seriesFields(step.spec) })) {
      accumulateSeries(acc, starts, step.spec, partition);
      scanned += partition.reduce((n, m) => n + m.segment.count, 0);
      const next = dayStart(partition[0]!.day) + DAY_MS;
      if (scanned >= maxEvents && next < step.spec.end)
        return { ...step, from: next, done: false, state: acc.save() };
    }
    return { ...step, from: step.spec.end, done: true, state: acc.save() };
  }
  const cells = loadCells(step.state);
  const save = (): GeoState => [...cells.values()].map((b) => [b.cellLat, b.cellLon, b.lat, b.lon, b.count]);
  for await (const partition of scan(store, sel, { fields: [LOCATION] })) {
    accumulateGeo(cells, step.spec, partition);
    scanned += partition.reduce((n, m) => n + m.segment.count, 0);
    const next = dayStart(partition[0]!.day) + DAY_MS;
    if (scanned >= maxEvents && next < step.spec.end)
      return { ...step, from: next, done: false, state: save() };
  }
  return { ...step, from: step.spec.end, done: true, state: save() };
}

/** QuerySeries as a sequence of steps; the same answer as `querySeries`. */
export async function querySeriesStepped(
  spec: SeriesSpec,
  limits: { maxGroups: number },
  run: StepRunner,
): Promise<SeriesResult> {
  const last = await runAll(
    { kind: "series", spec, maxGroups: limits.maxGroups, from: spec.start, done: false },
    run,
  );
  if (last.kind !== "series") throw new Error("a series step came back as another kind");
  const starts = seriesStarts(spec);
  const acc = seriesAccumulator(spec, starts, limits);
  if (last.state) acc.load(last.state);
  return acc.result(starts);
}

/** QueryGeo as a sequence of steps; the same answer as `queryGeo`. */
export async function queryGeoStepped(spec: GeoQuerySpec, run: StepRunner): Promise<GeoBin[]> {
  const last = await runAll({ kind: "geo", spec, from: spec.start, done: false }, run);
  if (last.kind !== "geo") throw new Error("a geo step came back as another kind");
  return geoBins(loadCells(last.state), spec);
}

function loadCells(state: GeoState | undefined): GeoCells {
  const cells = new GeoCells();
  for (const [cellLat, cellLon, lat, lon, count] of state ?? []) cells.add(cellLat, cellLon, lat, lon, count);
  return cells;
}

async function runAll(first: Step, run: StepRunner): Promise<Step> {
  let step = first;
  while (!step.done) {
    const next = await run(step);
    // Every step finishes at least one partition, so `from` always moves on; anything else would loop.
    if (!next.done && next.from <= step.from) throw new Error("a query step made no progress");
    step = next;
  }
  return step;
}
