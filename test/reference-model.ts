/**
 * A naive reference model of Tally's query semantics, written from the API contract (telemetry.proto and
 * the issue) and deliberately independent of store/ and functions/: plain arrays, linear scans, no
 * indexes, no caches. It is meant to be slow and obviously correct, so that the real server can be
 * compared with it query by query.
 */
import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import { toJson } from "@bufbuild/protobuf";
import { timestampMs, ValueSchema } from "@bufbuild/protobuf/wkt";
import {
  AggregationFunction,
  type Filter,
  type GeoFilter,
  Interval,
  type ListEventsRequest,
  Operator,
  Order,
  type QueryGeoRequest,
  type QuerySeriesRequest,
  type TimeRange,
  Weekday,
} from "../proto/gen/telemetry/v1/telemetry_pb.ts";

// ---------------------------------------------------------------------------------------------------------
// Recorded events

/** One event as the model keeps it: time in whole milliseconds, location absent when not sent. */
export interface ModelEvent {
  module: string;
  /** "" when the client sent none (the server assigns an id the model cannot know). */
  id: string;
  type: string;
  timeMs: number;
  data: JsonObject;
  location?: { lat: number; lon: number };
}

export interface ModelSeriesRow {
  bucketStartMs: number;
  group: string[];
  value: number;
}

export interface ModelGeoBin {
  lat: number;
  lon: number;
  count: number;
}

/** A plain array of recorded events, with the contract's idempotency rule applied on insert. */
export class ReferenceModel {
  readonly events: ModelEvent[] = [];
  /** `module \n id \n timeMs` of every event recorded with a client id. */
  private readonly seen = new Set<string>();

  /** Records one RecordEvents batch; returns what the server must answer. */
  record(events: readonly ModelEvent[]): { accepted: number; duplicates: number } {
    let accepted = 0;
    let duplicates = 0;
    for (const event of events) {
      // Events without an id get a fresh server id, so they can never be duplicates.
      const key = `${event.module}\n${event.id}\n${event.timeMs}`;
      if (event.id !== "" && this.seen.has(key)) {
        duplicates++;
        continue;
      }
      if (event.id !== "") this.seen.add(key);
      this.events.push(event);
      accepted++;
    }
    return { accepted, duplicates };
  }

  querySeries(req: QuerySeriesRequest): ModelSeriesRow[] {
    const selected = this.select(req);
    const range = rangeMs(req.range);
    const starts = bucketStarts(range.start, range.end, req.interval, req.timeZone || "UTC", req.weekStart);
    const fn = req.aggregation?.function ?? AggregationFunction.COUNT;
    const aggField = req.aggregation?.field ?? "";

    // cells: bucket index -> group key -> the events of that bucket and group.
    const cells = new Map<number, Map<string, ModelEvent[]>>();
    const groups = new Map<string, string[]>();
    if (req.groupBy.length === 0) groups.set(groupKey([]), []);
    for (const event of selected) {
      const bucket = bucketIndex(starts, event.timeMs);
      for (const group of groupsOf(event, req.groupBy)) {
        const key = groupKey(group);
        groups.set(key, group);
        const byGroup = getOrCreate(cells, bucket, () => new Map<string, ModelEvent[]>());
        getOrCreate(byGroup, key, () => []).push(event);
      }
    }

    const sortedGroups = [...groups.values()].sort(compareGroups);
    const rows: ModelSeriesRow[] = [];
    starts.forEach((bucketStartMs, bucket) => {
      for (const group of sortedGroups) {
        const events = cells.get(bucket)?.get(groupKey(group)) ?? [];
        rows.push({ bucketStartMs, group, value: aggregate(fn, aggField, events) });
      }
    });
    return rows;
  }

  queryGeo(req: QueryGeoRequest): ModelGeoBin[] {
    const cellDegrees = req.cellDegrees || 1;
    const cells = new Map<string, { cellLat: number; cellLon: number; lats: number[]; lons: number[] }>();
    for (const event of this.select(req)) {
      if (!event.location) continue;
      const { lat, lon } = event.location;
      const cellLat = Math.floor(lat / cellDegrees);
      const cellLon = Math.floor(lon / cellDegrees);
      const key = `${cellLat},${cellLon}`;
      const cell = getOrCreate(cells, key, () => ({ cellLat, cellLon, lats: [], lons: [] }));
      cell.lats.push(lat);
      cell.lons.push(lon);
    }
    return [...cells.values()]
      .filter((c) => c.lats.length >= req.minCount)
      .sort((a, b) => b.lats.length - a.lats.length || a.cellLat - b.cellLat || a.cellLon - b.cellLon)
      .map((c) => ({ lat: mean(c.lats), lon: mean(c.lons), count: c.lats.length }));
  }

  listEvents(req: ListEventsRequest): ModelEvent[] {
    // (time, id) is unique within a module: equal id and time would have been a duplicate.
    const sorted = this.select(req).sort((a, b) => a.timeMs - b.timeMs || compareStrings(a.id, b.id));
    return req.order === Order.DESC ? sorted.reverse() : sorted;
  }

  /** The events a query selects: module, types, range, filters and geo, all of which must hold. */
  private select(req: {
    module: string;
    types: string[];
    range?: TimeRange;
    filters: Filter[];
    geo?: GeoFilter;
  }): ModelEvent[] {
    const { start, end } = rangeMs(req.range);
    return this.events.filter(
      (e) =>
        e.module === req.module &&
        (req.types.length === 0 || req.types.includes(e.type)) &&
        e.timeMs >= start &&
        e.timeMs < end &&
        req.filters.every((f) => matchesFilter(e, f)) &&
        (req.geo === undefined || matchesGeo(e, req.geo)),
    );
  }
}

function getOrCreate<K, V>(map: Map<K, V>, key: K, make: () => V): V {
  let value = map.get(key);
  if (value === undefined) {
    value = make();
    map.set(key, value);
  }
  return value;
}

function rangeMs(range: TimeRange | undefined): { start: number; end: number } {
  if (!range?.start || !range.end) throw new Error("the reference queries always have a range");
  return { start: timestampMs(range.start), end: timestampMs(range.end) };
}

// ---------------------------------------------------------------------------------------------------------
// Fields and filters

/**
 * The values a field reaches: `type` reaches the event type; a dotted path reaches the values at that path
 * in data, where stepping into (or ending at) an array reaches every element.
 */
export function reach(event: ModelEvent, field: string): JsonValue[] {
  if (field === "type") return [event.type];
  let values: JsonValue[] = [event.data];
  for (const segment of field.split(".")) {
    const next: JsonValue[] = [];
    for (const value of values) {
      if (isObject(value) && Object.hasOwn(value, segment)) next.push(...elements(value[segment]!));
    }
    values = next;
  }
  return values;
}

/** An array stands for its elements (recursively); anything else for itself. */
function elements(value: JsonValue): JsonValue[] {
  return Array.isArray(value) ? value.flatMap(elements) : [value];
}

function isObject(value: JsonValue): value is { [key: string]: JsonValue } {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Same JSON type and same value (objects and arrays compared structurally). */
export function jsonEqual(a: JsonValue, b: JsonValue): boolean {
  if (Array.isArray(a) || Array.isArray(b)) {
    return (
      Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => jsonEqual(x, b[i]!))
    );
  }
  if (isObject(a) || isObject(b)) {
    if (!isObject(a) || !isObject(b)) return false;
    const keys = Object.keys(a);
    return (
      keys.length === Object.keys(b).length &&
      keys.every((k) => Object.hasOwn(b, k) && jsonEqual(a[k]!, b[k]!))
    );
  }
  return a === b;
}

function matchesFilter(event: ModelEvent, filter: Filter): boolean {
  const reached = reach(event, filter.field);
  const operands = filter.values.map((v) => toJson(ValueSchema, v) as JsonValue);
  const numbers = reached.filter((v): v is number => typeof v === "number");
  const bound = operands[0];
  switch (filter.op) {
    case Operator.EQ:
      return reached.some((v) => operands.some((o) => jsonEqual(v, o)));
    case Operator.NEQ:
      return !reached.some((v) => operands.some((o) => jsonEqual(v, o)));
    case Operator.EXISTS:
      return reached.length > 0;
    case Operator.NOT_EXISTS:
      return reached.length === 0;
    case Operator.GT:
      return typeof bound === "number" && numbers.some((n) => n > bound);
    case Operator.GTE:
      return typeof bound === "number" && numbers.some((n) => n >= bound);
    case Operator.LT:
      return typeof bound === "number" && numbers.some((n) => n < bound);
    case Operator.LTE:
      return typeof bound === "number" && numbers.some((n) => n <= bound);
    case Operator.CONTAINS:
      return reached.some(
        (v) =>
          typeof v === "string" &&
          operands.some((o) => typeof o === "string" && v.toLowerCase().includes(o.toLowerCase())),
      );
    default:
      throw new Error(`the model does not know operator ${filter.op}`);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Geo

/** Mean Earth radius of the contract's sphere, in meters. */
export const EARTH_RADIUS_M = 6_371_008.8;

/** Great-circle distance by the haversine formula. */
export function haversineMeters(lat1: number, lon1: number, lat2: number, lon2: number): number {
  const rad = Math.PI / 180;
  const dLat = (lat2 - lat1) * rad;
  const dLon = (lon2 - lon1) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(h)));
}

function matchesGeo(event: ModelEvent, geo: GeoFilter): boolean {
  if (!event.location) return false;
  const { lat, lon } = event.location;
  const shape = geo.shape;
  if (shape.case === "box") {
    const { south, west, north, east } = shape.value;
    if (lat < south || lat > north) return false;
    // west > east: the box crosses the antimeridian, so it is the union of [west, 180] and [-180, east].
    return west <= east ? lon >= west && lon <= east : lon >= west || lon <= east;
  }
  if (shape.case === "circle") {
    const center = shape.value.center;
    if (!center) throw new Error("a circle needs a center");
    return haversineMeters(center.lat, center.lon, lat, lon) <= shape.value.radiusMeters;
  }
  throw new Error("a geo filter needs a shape");
}

function mean(values: number[]): number {
  return values.reduce((s, v) => s + v, 0) / values.length;
}

// ---------------------------------------------------------------------------------------------------------
// Groups and aggregation

/** A group value as a string: numbers in their shortest JS form. */
function groupString(value: JsonValue): string {
  return typeof value === "string"
    ? value
    : typeof value === "number"
      ? String(value)
      : JSON.stringify(value);
}

/** Every distinct combination of the values the groupBy fields reach; a missing field groups as "". */
function groupsOf(event: ModelEvent, groupBy: string[]): string[][] {
  let combos: string[][] = [[]];
  for (const field of groupBy) {
    const reached = reach(event, field).map(groupString);
    const values = reached.length ? [...new Set(reached)] : [""];
    combos = combos.flatMap((combo) => values.map((v) => [...combo, v]));
  }
  // Distinct combinations only: values are already distinct per field, so combos are too.
  return combos;
}

function groupKey(group: string[]): string {
  return JSON.stringify(group);
}

/** JS string order (UTF-16 code units), without locale rules. */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Element-wise JS string order. */
export function compareGroups(a: readonly string[], b: readonly string[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const c = compareStrings(a[i]!, b[i]!);
    if (c !== 0) return c;
  }
  return a.length - b.length;
}

function aggregate(fn: AggregationFunction, field: string, events: ModelEvent[]): number {
  switch (fn) {
    case AggregationFunction.UNSPECIFIED:
    case AggregationFunction.COUNT:
      return events.length;
    case AggregationFunction.COUNT_UNIQUE: {
      // Distinct by JSON type and value, as EQ compares: the number 5 and the string "5" differ.
      const distinct = new Set(
        events.flatMap((e) => reach(e, field)).map((v) => `${typeof v}:${JSON.stringify(v)}`),
      );
      return distinct.size;
    }
    default: {
      const numbers = events
        .flatMap((e) => reach(e, field))
        .filter((v): v is number => typeof v === "number");
      if (numbers.length === 0) return 0;
      if (fn === AggregationFunction.SUM) return numbers.reduce((s, n) => s + n, 0);
      if (fn === AggregationFunction.AVG) return numbers.reduce((s, n) => s + n, 0) / numbers.length;
      if (fn === AggregationFunction.MIN) return Math.min(...numbers);
      if (fn === AggregationFunction.MAX) return Math.max(...numbers);
      throw new Error(`the model does not know aggregation ${fn}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// Local time and buckets

export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;

export interface LocalTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  /** UTC offset in minutes at this instant (e.g. 120 for CEST). */
  offsetMinutes: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** The wall-clock time in `timeZone` at instant `ms`, read with Intl (the tz database of the runtime). */
export function localTime(ms: number, timeZone: string): LocalTime {
  let format = formatters.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
    formatters.set(timeZone, format);
  }
  const parts: Record<string, number> = {};
  for (const part of format.formatToParts(ms)) {
    if (part.type !== "literal") parts[part.type] = Number(part.value);
  }
  const [year, month, day, hour, minute, second] = ["year", "month", "day", "hour", "minute", "second"].map(
    (k) => parts[k] ?? Number.NaN,
  ) as [number, number, number, number, number, number];
  const wallMs = Date.UTC(year, month - 1, day, hour, minute, second);
  const offsetMinutes = Math.round((wallMs - Math.floor(ms / 1000) * 1000) / MINUTE_MS);
  return { year, month, day, hour, minute, offsetMinutes };
}

/** 0 = Monday .. 6 = Sunday, of a local calendar date. */
function mondayBasedWeekday(year: number, month: number, day: number): number {
  return (new Date(Date.UTC(year, month - 1, day)).getUTCDay() + 6) % 7;
}

/**
 * The bucket "key" of an instant: two instants are in the same bucket exactly when they lie in one run of
 * consecutive minutes with equal keys. Hours and minutes include the UTC offset, so that the repeated
 * 02:00–03:00 of a fall-back night is two buckets, not one.
 */
function bucketKey(ms: number, interval: Interval, timeZone: string, weekStart: Weekday): string {
  const t = localTime(ms, timeZone);
  switch (interval) {
    case Interval.MINUTE:
      return `${t.year}-${t.month}-${t.day} ${t.hour}:${t.minute} ${t.offsetMinutes}`;
    case Interval.HOUR:
      return `${t.year}-${t.month}-${t.day} ${t.hour} ${t.offsetMinutes}`;
    case Interval.UNSPECIFIED:
    case Interval.DAY:
      return `${t.year}-${t.month}-${t.day}`;
    case Interval.WEEK: {
      // Walk back to the most recent weekStart day (Monday when unspecified); its date names the week.
      const first = (weekStart || Weekday.MONDAY) - 1;
      const back = (mondayBasedWeekday(t.year, t.month, t.day) - first + 7) % 7;
      const d = new Date(Date.UTC(t.year, t.month - 1, t.day - back));
      return `week of ${d.getUTCFullYear()}-${d.getUTCMonth() + 1}-${d.getUTCDate()}`;
    }
    case Interval.MONTH:
      return `${t.year}-${t.month}`;
    default:
      throw new Error(`no key for interval ${interval}`);
  }
}

/**
 * The step at which keys are probed. Every bucket of these intervals is at least this long (a day is ≥ 23 h),
 * so a key can change at most once between two probes and a binary search on whole minutes finds where.
 * All offsets of the zones used are whole minutes, so bucket edges are whole UTC minutes.
 */
function probeStep(interval: Interval): number {
  return interval === Interval.MINUTE || interval === Interval.HOUR ? MINUTE_MS : HOUR_MS;
}

/** The first whole minute in (from, to] whose key differs from key(from); `to` must differ. */
function firstChange(from: number, to: number, key: (ms: number) => string): number {
  const k = key(from);
  let lo = from; // key(lo) === k
  let hi = to; // key(hi) !== k
  while (hi - lo > MINUTE_MS) {
    const mid = lo + Math.floor((hi - lo) / 2 / MINUTE_MS) * MINUTE_MS;
    if (key(mid) === k) lo = mid;
    else hi = mid;
  }
  return hi;
}

/**
 * The start instants of the buckets covering [start, end): the first is the start of the bucket holding
 * `start` (possibly before it); TOTAL is a single bucket at `start`.
 */
export function bucketStarts(
  start: number,
  end: number,
  interval: Interval,
  timeZone: string,
  weekStart: Weekday = Weekday.MONDAY,
): number[] {
  if (interval === Interval.TOTAL) return [start];
  const key = (ms: number) => bucketKey(ms, interval, timeZone, weekStart);
  const step = probeStep(interval);

  // The bucket of `start`: walk back from its minute until the key changes, then pin the edge down.
  let first = Math.floor(start / MINUTE_MS) * MINUTE_MS;
  const startKey = key(first);
  let probe = first - step;
  while (key(probe) === startKey) {
    first = probe;
    probe -= step;
  }
  if (step > MINUTE_MS) first = firstChange(probe, first, key);

  const starts = [first];
  let current = first;
  for (;;) {
    const currentKey = key(current);
    let next = current + step;
    while (key(next) === currentKey) next += step;
    const edge = step > MINUTE_MS ? firstChange(next - step, next, key) : next;
    if (edge >= end) return starts;
    starts.push(edge);
    current = edge;
  }
}

/** The bucket of an instant: the last bucket starting at or before it. */
function bucketIndex(starts: number[], ms: number): number {
  let index = -1;
  starts.forEach((s, i) => {
    if (s <= ms) index = i;
  });
  if (index < 0) throw new Error(`instant ${ms} precedes the first bucket`);
  return index;
}
