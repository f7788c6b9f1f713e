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
 *
 * An events export goes in steps too: a first pass collects its data columns partition by partition (as
 * above), then each step writes the CSV rows of the next EXPORT_STEP_ROWS events (or EXPORT_STEP_CHARS
 * of text) after a (time, id) cursor, as ListEvents pages do, so a day of a million events takes several
 * steps; the text is `eventRows`'s. Its steps read the query's snapshot like the others.
 */
import { TallyError } from "./errors.ts";
import type { EventStore } from "./event-store.ts";
import { columnsFrom, eventRowsAfter, eventsHeader } from "./export-events.ts";
import { accumulateGeo, type GeoBin, GeoCells, geoBins } from "./geo-query.ts";
import { fromJsonNumber, type JsonNumber, toJsonNumber } from "./json.ts";
import { dayOf, dayStart } from "./keys.ts";
import { compare, type EventCursor, type ListedEvent, listEvents } from "./list-events.ts";
import type { GeoQuerySpec, ListSpec, Selection, SeriesSpec } from "./query-spec.ts";
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
  | ({
      kind: "series";
      spec: SeriesSpec;
      maxGroups: number;
      from: number;
      done: boolean;
      state?: SeriesState;
    } & Watch)
  | ({ kind: "geo"; spec: GeoQuerySpec; from: number; done: boolean; state?: GeoState } & Watch)
  | ColumnsStep
  | RowsStep
  | PageStep;

/**
 * What a query in steps carries to see data hidden while it runs. DeleteData (a tombstone) and retention
 * hide data from every reader at once, whatever a query's snapshot, so a deletion between two steps would
 * leave earlier steps' counts (or a page's events) of data later steps no longer see: an answer no single
 * pass gives. The first step notes what hides data before it scans (`seen`); a step that finds more hidden
 * once it has scanned starts the query again from the beginning (`restarts`), with what it finds then.
 */
type Watch = { seen?: Hidden; restarts?: number };

/** What hides a query's data: the first day its module's retention keeps, the tombstones over its days. */
type Hidden = { retainedFrom: string; stones: string[] };

/** A query in steps that keeps meeting deletions gives up after this many fresh starts (`unavailable`). */
const MAX_RESTARTS = 3;

/**
 * A ListEvents page: the events found so far (`found`, up to `limit`), the rest of the range from `from`
 * on (up to it, descending), and once done whether more events follow the page.
 */
export type PageStep = Watch & {
  kind: "page";
  spec: ListSpec;
  limit: number;
  cursor?: EventCursor;
  from: number;
  done: boolean;
  found?: SteppedEvent[];
  more?: boolean;
};

/** A listed event as a step carries it: its location as `JsonNumber`s (an absent one is NaN, may be -0). */
type SteppedEvent = Omit<ListedEvent, "lat" | "lon"> & { lat: JsonNumber; lon: JsonNumber };

/** An events export's first pass: the union of its data columns (`state`) so far. */
export type ColumnsStep = Watch & {
  kind: "columns";
  spec: ListSpec;
  from: number;
  done: boolean;
  state?: string[];
};

/**
 * An events export's rows: a step writes those of the events after `after` (all of them from the start)
 * as `csv`, up to EXPORT_STEP_ROWS rows or the row that reaches EXPORT_STEP_CHARS characters, and moves
 * `after` to the last; its `csv` is output, not state. A step that has checked `maxEvents` events also
 * ends after the partition it is in, and `from` says where the rest of the range starts (up to it,
 * descending), so that a selective filter's few rows far apart take several steps, not one long scan.
 */
export type RowsStep = {
  kind: "rows";
  spec: ListSpec;
  columns: string[];
  after?: EventCursor;
  from?: number;
  done: boolean;
  csv?: string;
};

/**
 * Rows an export step writes at most, whatever `maxEvents` says: a step's rows travel as one text (about
 * 150 bytes a row), which must fit a Worker's memory beside the segments it reads.
 */
export const EXPORT_STEP_ROWS = 50_000;
/** And at most about this much text (events of large data make long rows). */
export const EXPORT_STEP_CHARS = 8 * 1024 * 1024;

/** Geo cells as `[cellLat, cellLon, latSum, lonSum, count]` (a sum of locations at -0 is -0). */
export type GeoState = [number, number, JsonNumber, JsonNumber, number][];

/** Runs one step somewhere (in process, or in a fresh Worker invocation) and returns the next. */
export type StepRunner = (step: Step) => Promise<Step>;

/**
 * Runs one step here: aggregates from `step.from` until `maxEvents` events have been scanned. `limits`:
 * an export step's rows and text (tests make them small).
 */
export async function runStep(
  store: EventStore,
  step: Step,
  maxEvents: number,
  limits = { rows: EXPORT_STEP_ROWS, chars: EXPORT_STEP_CHARS },
): Promise<Step> {
  // An export's rows stream out as they are written, as a single pass's do: nothing to start again.
  if (step.kind === "rows") return runPartitions(store, step, maxEvents, limits);
  const seen = step.seen ?? (await hidden(store, step.spec));
  const next = (await runPartitions(store, step, maxEvents, limits)) as Exclude<Step, RowsStep>;
  if (!hidesMore(await hidden(store, step.spec), seen)) return { ...next, seen };
  const restarts = (step.restarts ?? 0) + 1;
  if (restarts > MAX_RESTARTS)
    throw new TallyError("unavailable", "data of this query was being deleted while it ran; retry");
  return { ...first(step), restarts };
}

/** What hides the data of `sel` now (Hidden). */
async function hidden(store: EventStore, sel: Selection): Promise<Hidden> {
  const from = dayOf(sel.start);
  const to = dayOf(Math.max(sel.start, sel.end - 1));
  return {
    retainedFrom: store.retainedFrom(sel.module),
    stones: await store.tombstones.keysCovering(sel.tenant, sel.module, from, to),
  };
}

/** Whether `now` may hide data `before` did not (a retired tombstone hides nothing more). */
function hidesMore(now: Hidden, before: Hidden): boolean {
  return now.retainedFrom !== before.retainedFrom || now.stones.some((key) => !before.stones.includes(key));
}

/** The first step of the query `step` belongs to. */
function first(step: Exclude<Step, RowsStep>): Exclude<Step, RowsStep> {
  switch (step.kind) {
    case "series":
      return {
        kind: "series",
        spec: step.spec,
        maxGroups: step.maxGroups,
        from: step.spec.start,
        done: false,
      };
    case "geo":
      return { kind: "geo", spec: step.spec, from: step.spec.start, done: false };
    case "columns":
      return { kind: "columns", spec: step.spec, from: step.spec.start, done: false };
    case "page": {
      const { spec, limit, cursor } = step;
      const again: PageStep = {
        kind: "page",
        spec,
        limit,
        from: spec.order === "desc" ? spec.end : spec.start,
        done: false,
      };
      if (cursor) again.cursor = cursor;
      return again;
    }
  }
}

async function runPartitions(
  store: EventStore,
  step: Step,
  maxEvents: number,
  limits: { rows: number; chars: number },
): Promise<Step> {
  if (step.kind === "page") {
    const found = step.found ?? [];
    const desc = step.spec.order === "desc";
    const page = await listEvents(
      store,
      rest(step.spec, step.from),
      step.limit - found.length,
      step.cursor,
      maxEvents,
    );
    const events = [...found, ...page.events.map(stepped)];
    // A full page still looks for one event more (limit - found = 0) in the next step: is there more?
    if (page.resume !== undefined) return { ...step, from: page.resume, done: false, found: events };
    const end = desc ? step.spec.start : step.spec.end;
    return { ...step, from: end, done: true, found: events, more: page.more };
  }
  if (step.kind === "columns") {
    const union = new Set(step.state);
    const from = await columnsFrom(store, step.spec, step.from, union, maxEvents);
    return { ...step, from, done: from >= step.spec.end, state: [...union] };
  }
  if (step.kind === "rows") {
    const limit = Math.max(1, Math.min(maxEvents, limits.rows));
    const { csv, cursor, more, resume } = await eventRowsAfter(
      store,
      rest(step.spec, step.from),
      step.columns,
      limit,
      step.after,
      limits.chars,
      maxEvents,
    );
    const next: RowsStep = { ...step, done: !more, csv };
    if (cursor) next.after = cursor;
    if (resume !== undefined) next.from = resume;
    return next;
  }
  // Every partition whose rows are checked counts, matching or not (a filter that matches little still
  // costs its rows); segments ruled out by their header, or answered by a rollup, cost no budget.
  let scanned = 0;
  let day = "";
  const visit = (d: string, checked: number) => {
    day = d;
    scanned += checked;
  };
  const sel = { ...step.spec, start: Math.max(step.spec.start, step.from) };
  if (step.kind === "series") {
    const starts = seriesStarts(step.spec);
    const acc = seriesAccumulator(step.spec, starts, step);
    if (step.state) acc.load(step.state);
    // Segments a rollup answers are counted from it as the scan meets them.
    const claim = rollupClaim(acc, starts, step.spec);
    for await (const partition of scan(store, sel, { claim, fields: seriesFields(step.spec), visit })) {
      accumulateSeries(acc, starts, step.spec, partition);
      const next = dayStart(day) + DAY_MS;
      if (scanned >= maxEvents && next < step.spec.end)
        return { ...step, from: next, done: false, state: acc.save() };
    }
    return { ...step, from: step.spec.end, done: true, state: acc.save() };
  }
  const cells = loadCells(step.state);
  const save = (): GeoState =>
    [...cells.values()].map((b) => [b.cellLat, b.cellLon, toJsonNumber(b.lat), toJsonNumber(b.lon), b.count]);
  for await (const partition of scan(store, sel, { fields: [LOCATION], times: false, visit })) {
    accumulateGeo(cells, step.spec, partition);
    const next = dayStart(day) + DAY_MS;
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

/**
 * An events export's CSV text as a sequence of steps: the columns' pass (unless `requested` names them),
 * the header, then each step's rows — the text `eventRows` yields in one go.
 */
export async function* exportEventsStepped(
  spec: ListSpec,
  requested: readonly string[],
  run: StepRunner,
): AsyncGenerator<string> {
  let columns = [...requested];
  if (columns.length === 0) {
    const last = await runAll({ kind: "columns", spec, from: spec.start, done: false }, run);
    if (last.kind !== "columns") throw new Error("a columns step came back as another kind");
    columns = [...(last.state ?? [])].sort();
  }
  yield eventsHeader(columns);
  let step: RowsStep = { kind: "rows", spec, columns, done: false };
  for (;;) {
    const next = await run(step);
    if (next.kind !== "rows") throw new Error("a rows step came back as another kind");
    if (next.csv) yield next.csv;
    if (next.done) return;
    // A step that is not the last wrote rows after its cursor, so the cursor moved on, or finished
    // partitions, so the rest of the range shrank; else it would loop.
    const wrote = next.csv && next.after && (!step.after || movedOn(step.after, next.after, spec.order));
    if (!wrote && !shrank(spec, step.from, next.from)) throw new Error("an export step made no progress");
    step = { kind: "rows", spec, columns, done: false };
    if (next.after) step.after = next.after;
    if (next.from !== undefined) step.from = next.from;
  }
}

/** The part of the range still to go through: from `from` on (up to it, descending). */
function rest(spec: ListSpec, from: number | undefined): ListSpec {
  if (from === undefined) return spec;
  return spec.order === "desc"
    ? { ...spec, end: Math.min(spec.end, from) }
    : { ...spec, start: Math.max(spec.start, from) };
}

/** Whether the rest of the range starting at `next` is smaller than from `previous`. */
function shrank(spec: ListSpec, previous: number | undefined, next: number | undefined): boolean {
  if (next === undefined) return false;
  return spec.order === "desc" ? next < (previous ?? spec.end) : next > (previous ?? spec.start);
}

/**
 * A ListEvents page as a sequence of steps; the same answer as `listEvents`. Each step lists whole
 * partitions until the page is full or it has checked `maxEvents` events, so a very selective filter over
 * a long range no longer scans it all in one invocation.
 */
export async function listEventsStepped(
  spec: ListSpec,
  limit: number,
  cursor: EventCursor | undefined,
  run: StepRunner,
): Promise<{ events: ListedEvent[]; more: boolean }> {
  const desc = spec.order === "desc";
  let step: PageStep = { kind: "page", spec, limit, from: desc ? spec.end : spec.start, done: false };
  if (cursor) step.cursor = cursor;
  for (;;) {
    const next = await run(step);
    if (next.kind !== "page") throw new Error("a page step came back as another kind");
    if (!next.done && !restarted(step, next) && (desc ? next.from >= step.from : next.from <= step.from))
      throw new Error("a query step made no progress");
    step = next;
    if (step.done) break;
  }
  return { events: (step.found ?? []).map(listed), more: step.more ?? false };
}

/** Whether `next` is the query starting again after `step` (runStep's restarts). */
function restarted(step: Watch, next: Watch): boolean {
  return (next.restarts ?? 0) > (step.restarts ?? 0);
}

function stepped(e: ListedEvent): SteppedEvent {
  return { ...e, lat: toJsonNumber(e.lat), lon: toJsonNumber(e.lon) };
}

function listed(e: SteppedEvent): ListedEvent {
  return { ...e, lat: fromJsonNumber(e.lat), lon: fromJsonNumber(e.lon) };
}

/** Whether `next` is past `previous` in the listing order. */
function movedOn(previous: EventCursor, next: EventCursor, order: "asc" | "desc"): boolean {
  const after = compare(next, previous);
  return order === "desc" ? after < 0 : after > 0;
}

function loadCells(state: GeoState | undefined): GeoCells {
  const cells = new GeoCells();
  for (const [cellLat, cellLon, lat, lon, count] of state ?? [])
    cells.add(cellLat, cellLon, fromJsonNumber(lat), fromJsonNumber(lon), count);
  return cells;
}

/** The steps that go through whole partitions from `from` on. */
type PartitionStep = Exclude<Step, RowsStep>;

async function runAll(first: PartitionStep, run: StepRunner): Promise<PartitionStep> {
  let step = first;
  while (!step.done) {
    const next = await run(step);
    if (next.kind === "rows") throw new Error("a partition step came back as rows");
    // Every step finishes at least one partition, so `from` always moves on (unless the query starts
    // again, a bounded number of times); anything else would loop.
    if (!next.done && !restarted(step, next) && next.from <= step.from)
      throw new Error("a query step made no progress");
    step = next;
  }
  return step;
}
