// Time bucketing for time-series queries.
//
// A query covers the half-open range [start, end) (ms since epoch) and groups it into buckets aligned
// to an interval in an IANA time zone. Runtime-neutral: only `Intl` and `Date` (no `node:*`), so it
// also runs on Cloudflare Workers.
//
// A bucket is a maximal run of instants whose local key is the same:
// - minute / hour: the local wall-clock minute / hour. The run also ends where the wall clock is set
//   back (a DST fall-back), so a repeated local hour is two buckets and a 25-hour day has 25 hour
//   buckets; a skipped hour (spring-forward) has no bucket.
// - day: the local calendar day, starting at its first instant (00:00 local, or the end of a DST gap
//   when 00:00 does not exist); a day skipped entirely (Pacific/Apia 2011-12-30) has no bucket. Each
//   day has at most one bucket: where the clock was set back across midnight (America/St_Johns at
//   00:01 until 2011, Antarctica/Casey 2010), the repeated minutes of the old day belong to the new one.
// - week: local days grouped into weeks starting on `weekStart` (ISO weekday, 1 = Monday).
// - month: local calendar months.
// - total: one bucket starting at range.start.
//
// Offsets come from `Intl.DateTimeFormat#formatToParts` and are cached per 15-minute UTC slot. A slot
// whose two ends disagree is searched (to the second) for its transition, so offsets are exact unless a
// zone changes its offset twice within 15 minutes. Day, week and month boundaries probe the offset 24
// hours either side of the local midnight, so they assume at most one offset change within those 48
// hours. (Checked against the tz data in ICU 78: no zone changes its offset twice within 6 days between
// 1970 and 2040.)

export type IntervalKind = "minute" | "hour" | "day" | "week" | "month" | "total";

export interface BucketQuery {
  start: number;
  end: number;
  interval: IntervalKind;
  timeZone: string;
  /** ISO weekday the week starts on: 1 = Monday (default) .. 7 = Sunday. */
  weekStart?: number;
}

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
const SLOT = 15 * MINUTE;
/** Instants accepted: the Date range minus room for probes before the first month bucket. */
const LIMIT = 8.64e15 - 45 * DAY;

const INTERVALS: ReadonlySet<string> = new Set(["minute", "hour", "day", "week", "month", "total"]);

function isInterval(x: unknown): x is IntervalKind {
  return typeof x === "string" && INTERVALS.has(x);
}

// ---------------------------------------------------------------------------------------------------
// Zones and formatters

interface Zone {
  /** Absent for UTC, whose offset is always 0: the first Intl.DateTimeFormat of a process costs ~100 ms. */
  readonly dtf: Intl.DateTimeFormat | undefined;
  /** Offsets per 15-minute UTC slot (see cachePut). */
  recent: Map<number, SlotEntry>;
  older: Map<number, SlotEntry>;
  /** The last few day/week/month boundary probes (see probeOffset). */
  readonly probeT: Float64Array;
  readonly probeO: Float64Array;
  probeNext: number;
}

const MAX_NAMES = 1024;
const PROBE_MEMO = 4;
/** Input name → zone, or null when invalid. Bounded: cleared when full. */
const zonesByName = new Map<string, Zone | null>();
/** Resolved name → zone; bounded by the size of the tz database. */
const zonesByResolved = new Map<string, Zone>();

function lookupZone(timeZone: string): Zone | null {
  // IANA names are at most ~32 characters; don't let huge strings into the cache.
  if (typeof timeZone !== "string" || timeZone.length > 100) return null;
  const hit = zonesByName.get(timeZone);
  if (hit !== undefined) return hit;
  let zone: Zone | null = null;
  if (timeZone === "UTC") {
    zone = zonesByResolved.get("UTC") ?? newZone(undefined);
    zonesByResolved.set("UTC", zone);
    // Offset strings ("+05:30") are not IANA names; some runtimes accept them, so refuse them everywhere.
  } else if (timeZone !== "" && !/^[+\-\u2212]/.test(timeZone)) {
    try {
      const dtf = new Intl.DateTimeFormat("en-US-u-ca-gregory-nu-latn", {
        timeZone,
        hourCycle: "h23",
        era: "short",
        year: "numeric",
        month: "numeric",
        day: "numeric",
        hour: "numeric",
        minute: "numeric",
        second: "numeric",
      });
      const resolved = dtf.resolvedOptions().timeZone;
      zone = zonesByResolved.get(resolved) ?? null;
      if (zone === null) {
        zone = newZone(dtf);
        zonesByResolved.set(resolved, zone);
      }
    } catch {
      zone = null;
    }
  }
  if (zonesByName.size >= MAX_NAMES) zonesByName.clear();
  zonesByName.set(timeZone, zone);
  return zone;
}

function newZone(dtf: Intl.DateTimeFormat | undefined): Zone {
  return {
    dtf,
    recent: new Map(),
    older: new Map(),
    probeT: new Float64Array(PROBE_MEMO).fill(Number.NaN),
    probeO: new Float64Array(PROBE_MEMO),
    probeNext: 0,
  };
}

function requireZone(timeZone: string): Zone {
  const zone = lookupZone(timeZone);
  if (zone === null) throw new RangeError(`invalid time zone: ${JSON.stringify(timeZone)}`);
  return zone;
}

/** Whether `tz` names a time zone this runtime knows (results are cached). */
export function isValidTimeZone(tz: string): boolean {
  if (typeof tz !== "string") return false;
  return lookupZone(tz) !== null;
}

// ---------------------------------------------------------------------------------------------------
// Offsets

/** Date.UTC that also handles years 0..99 (which Date.UTC maps to 1900..1999). */
function utcMs(y: number, mo: number, d: number, h = 0, mi = 0, s = 0): number {
  if (y >= 100 || y < 0) return Date.UTC(y, mo, d, h, mi, s);
  const date = new Date(0);
  date.setUTCFullYear(y, mo, d);
  date.setUTCHours(h, mi, s, 0);
  return date.getTime();
}

/** The zone's UTC offset in ms at instant `t`, straight from Intl (second resolution). */
function rawOffset(zone: Zone, t: number): number {
  if (!zone.dtf) return 0;
  const sec = Math.floor(t / 1000) * 1000;
  let y = 0;
  let mo = 1;
  let d = 1;
  let h = 0;
  let mi = 0;
  let s = 0;
  let bc = false;
  for (const part of zone.dtf.formatToParts(sec)) {
    switch (part.type) {
      case "year":
        y = Number(part.value);
        break;
      case "month":
        mo = Number(part.value);
        break;
      case "day":
        d = Number(part.value);
        break;
      case "hour":
        h = Number(part.value) % 24;
        break;
      case "minute":
        mi = Number(part.value);
        break;
      case "second":
        s = Number(part.value);
        break;
      case "era":
        bc = part.value.startsWith("B");
        break;
    }
  }
  if (bc) y = 1 - y;
  return utcMs(y, mo - 1, d, h, mi, s) - sec;
}

/** A 15-minute slot whose offset changes once: `before` until `at`, `after` from `at` on. */
interface Transition {
  readonly before: number;
  readonly at: number;
  readonly after: number;
}

type SlotEntry = number | Transition;

// Per-zone two-generation cache (roughly LRU), keyed by slot number (a small integer for any date
// near the present): lookups hit `recent`, then `older`; when `recent` is full it becomes `older`.
// All zones together hold at most MAX_CACHED entries (everything is dropped when that is exceeded).
const ZONE_GENERATION = 32_768;
const MAX_CACHED = 262_144;
let cached = 0;

function cacheGet(zone: Zone, slot: number): SlotEntry | undefined {
  const hit = zone.recent.get(slot);
  if (hit !== undefined) return hit;
  const old = zone.older.get(slot);
  if (old !== undefined) cachePut(zone, slot, old);
  return old;
}

function cachePut(zone: Zone, slot: number, entry: SlotEntry): void {
  if (cached >= MAX_CACHED) {
    for (const z of zonesByResolved.values()) {
      z.recent = new Map();
      z.older = new Map();
    }
    cached = 0;
  }
  if (zone.recent.size >= ZONE_GENERATION) {
    cached -= zone.older.size;
    zone.older = zone.recent;
    zone.recent = new Map();
  }
  zone.recent.set(slot, entry);
  cached++;
}

function entryStart(e: SlotEntry): number {
  return typeof e === "number" ? e : e.before;
}

function entryEnd(e: SlotEntry): number {
  return typeof e === "number" ? e : e.after;
}

/** Offset at the first instant of `slot`, reusing neighbouring cached slots when possible. */
function slotStartOffset(zone: Zone, slot: number): number {
  const prev = cacheGet(zone, slot - 1);
  return prev === undefined ? rawOffset(zone, slot * SLOT) : entryEnd(prev);
}

function slotEntry(zone: Zone, slot: number): SlotEntry {
  const hit = cacheGet(zone, slot);
  if (hit !== undefined) return hit;
  const from = slot * SLOT;
  const a = slotStartOffset(zone, slot);
  const next = cacheGet(zone, slot + 1);
  const b = next === undefined ? rawOffset(zone, from + SLOT) : entryStart(next);
  let entry: SlotEntry = a;
  if (a !== b) {
    // Find the first second of the slot (after its start) whose offset differs from `a`.
    let lo = from;
    let hi = from + SLOT;
    while (hi - lo > 1000) {
      const mid = lo + Math.floor((hi - lo) / 2000) * 1000;
      if (rawOffset(zone, mid) === a) lo = mid;
      else hi = mid;
    }
    entry = { before: a, at: hi, after: b };
  }
  cachePut(zone, slot, entry);
  return entry;
}

/** Offset in ms at instant t (cached per 15-minute slot). */
function offsetMs(zone: Zone, t: number): number {
  const e = slotEntry(zone, Math.floor(t / SLOT));
  if (typeof e === "number") return e;
  return t < e.at ? e.before : e.after;
}

/** The first offset change in (from, to], or null. Scans 15-minute slots: use on short spans only. */
function firstChange(zone: Zone, from: number, to: number): Transition | null {
  const last = Math.ceil(to / SLOT) - 1;
  for (let s = Math.floor(from / SLOT); s <= last; s++) {
    const e = slotEntry(zone, s);
    if (typeof e !== "number" && e.at > from && e.at <= to) return e;
  }
  return null;
}

/** The last offset change in (from, to], or null. Scans 15-minute slots: use on short spans only. */
function lastChange(zone: Zone, from: number, to: number): Transition | null {
  const first = Math.floor(from / SLOT);
  for (let s = Math.ceil(to / SLOT) - 1; s >= first; s--) {
    const e = slotEntry(zone, s);
    if (typeof e !== "number" && e.at > from && e.at <= to) return e;
  }
  return null;
}

function requireInstant(name: string, t: number): void {
  if (!Number.isFinite(t) || Math.abs(t) > LIMIT) throw new RangeError(`${name} out of range: ${t}`);
}

/**
 * The zone's UTC offset in minutes at instant `ms` (local = UTC + offset). Historical local mean time
 * offsets may be fractional minutes. Throws RangeError for an invalid zone or instant.
 */
export function offsetMinutesAt(timeZone: string, ms: number): number {
  const zone = requireZone(timeZone);
  requireInstant("ms", ms);
  return offsetMs(zone, ms) / MINUTE;
}

// ---------------------------------------------------------------------------------------------------
// Bucket arithmetic

/** Offset at instant t, memoized: consecutive day/week/month boundaries share their probes. */
function probeOffset(zone: Zone, t: number): number {
  for (let i = 0; i < PROBE_MEMO; i++) if (zone.probeT[i] === t) return zone.probeO[i]!;
  const o = rawOffset(zone, t);
  zone.probeT[zone.probeNext] = t;
  zone.probeO[zone.probeNext] = o;
  zone.probeNext = (zone.probeNext + 1) % PROBE_MEMO;
  return o;
}

/**
 * The first instant whose local wall time is at or after local midnight `wall` (local ms, i.e. wall
 * clock read as UTC): `wall` itself when it exists (the earlier one if it occurs twice), else the end
 * of the gap it falls in. Probes the offset 24 hours either side of `wall` (every UTC offset is
 * smaller than that) and assumes the zone changes its offset at most once within those 48 hours.
 */
function firstInstantAtOrAfter(zone: Zone, wall: number): number {
  const lo = wall - DAY;
  const hi = wall + DAY;
  const oLo = probeOffset(zone, lo);
  const oHi = probeOffset(zone, hi);
  if (oLo === oHi) return wall - oLo;
  // One change in between: narrow to its slot by bisection, then read it from the slot entry.
  let a = lo;
  let b = hi;
  while (b - a > SLOT) {
    const mid = a + Math.floor((b - a) / 2);
    if (offsetMs(zone, mid) === oLo) a = mid;
    else b = mid;
  }
  const change = firstChange(zone, a, b);
  const at = change === null ? b : change.at;
  const early = wall - oLo;
  if (early < at) return early;
  const late = wall - oHi;
  if (late >= at) return late;
  return at;
}

/** Local day number (days since 1970-01-01 local) of instant t. */
function localDay(zone: Zone, t: number): number {
  return Math.floor((t + offsetMs(zone, t)) / DAY);
}

/** ISO weekday (1 = Monday .. 7 = Sunday) of a day number; day 0 (1970-01-01) was a Thursday. */
function isoWeekday(day: number): number {
  return ((((day + 3) % 7) + 7) % 7) + 1;
}

/** Day number of the first day of the day/week/month bucket containing local day `day`. */
function keyStartDay(interval: "day" | "week" | "month", day: number, weekStart: number): number {
  if (interval === "day") return day;
  if (interval === "week") return day - ((isoWeekday(day) - weekStart + 7) % 7);
  const d = new Date(day * DAY);
  return utcMs(d.getUTCFullYear(), d.getUTCMonth(), 1) / DAY;
}

/** Day number of the first day of the bucket after the one starting on day `keyDay`. */
function nextKeyDay(interval: "day" | "week" | "month", keyDay: number): number {
  if (interval === "day") return keyDay + 1;
  if (interval === "week") return keyDay + 7;
  const d = new Date(keyDay * DAY);
  return utcMs(d.getUTCFullYear(), d.getUTCMonth() + 1, 1) / DAY;
}

/** Start of the minute/hour bucket containing instant t. */
function clockBucketStart(zone: Zone, t: number, unit: number): number {
  let cur = t;
  let o = offsetMs(zone, cur);
  const key = Math.floor((cur + o) / unit) * unit;
  for (;;) {
    const candidate = key - o; // where the wall clock read `key` under offset o (≤ cur)
    const change = lastChange(zone, candidate, cur);
    if (change === null) return candidate;
    // The wall clock was set back at change.at: a new bucket starts there.
    if (change.after < change.before) return change.at;
    // Set forward: the bucket started at change.at unless the wall clock was already in this unit.
    const justBefore = change.at - 1;
    if (Math.floor((justBefore + change.before) / unit) * unit !== key) return change.at;
    cur = justBefore;
    o = change.before;
  }
}

/** Start of the minute/hour bucket after the one starting at bucket start b. */
function nextClockBucket(zone: Zone, b: number, unit: number): number {
  let cur = b;
  let o = offsetMs(zone, cur);
  const next = Math.floor((cur + o) / unit) * unit + unit;
  for (;;) {
    const candidate = next - o; // where the wall clock reaches `next` under offset o (> cur)
    const change = firstChange(zone, cur, candidate);
    if (change === null) return candidate;
    if (change.after < change.before) return change.at; // set back: new bucket
    if (change.at + change.after >= next) return change.at; // jumped into a later unit
    cur = change.at;
    o = change.after;
  }
}

/** Growable Float64Array. */
class StartsBuilder {
  private buf: Float64Array;
  length = 0;

  constructor(capacity: number) {
    this.buf = new Float64Array(Math.max(4, capacity));
  }

  get last(): number {
    return this.length === 0 ? Number.NEGATIVE_INFINITY : this.buf[this.length - 1]!;
  }

  push(x: number): void {
    if (this.length === this.buf.length) {
      const grown = new Float64Array(this.buf.length * 2);
      grown.set(this.buf);
      this.buf = grown;
    }
    this.buf[this.length++] = x;
  }

  /** The collected starts, dropping leading ones so that only the last start ≤ `start` remains. */
  finish(start: number): Float64Array {
    let from = 0;
    while (from + 1 < this.length && this.buf[from + 1]! <= start) from++;
    return this.buf.slice(from, this.length);
  }
}

/**
 * A cheap estimate of the number of buckets in [start, end) (no Intl): an upper bound for every real
 * zone (it allows for DST extra hours and short days), so callers can refuse absurd requests before
 * doing any work. Returns 0 for an empty range; throws RangeError for non-finite bounds or an unknown
 * interval.
 */
export function estimateBucketCount(start: number, end: number, interval: IntervalKind): number {
  if (!Number.isFinite(start) || !Number.isFinite(end)) throw new RangeError("range bounds must be finite");
  if (!isInterval(interval)) throw new RangeError(`unknown interval: ${String(interval)}`);
  if (end <= start) return 0;
  if (interval === "total") return 1;
  const span = end - start;
  // Shortest possible bucket (DST-shortened days, 28-day months) and one extra bucket per possible
  // fall-back (at most ~one a fortnight, generously).
  const shortest = { minute: MINUTE, hour: HOUR, day: 21 * HOUR, week: 7 * DAY - 3 * HOUR, month: 27 * DAY }[
    interval
  ];
  const fallBacks = interval === "minute" || interval === "hour" ? Math.ceil(span / (14 * DAY)) : 0;
  return Math.ceil(span / shortest) + 1 + fallBacks;
}

/**
 * Sorted, strictly increasing start instants of the buckets covering [start, end): the first is the
 * start of the bucket containing `start` (≤ start), every other one is in (start, end). Bucket i spans
 * [starts[i], starts[i + 1]) and the last one ends at `end` for the purposes of the query.
 * Throws RangeError on start ≥ end, non-integer or out-of-range bounds, an unknown interval, an
 * invalid time zone or a weekStart outside 1..7.
 */
export function bucketStarts(q: BucketQuery): Float64Array {
  // The same query shape (a dashboard's, refreshed) asks for the same starts: in a zone with offsets,
  // each day's start is found by probing the zone's offsets, about 1 ms for half a year of days once
  // optimised and several times that in a process's first queries. The answer depends on nothing else
  // (the zone rules are the runtime's), so it is remembered; callers get a copy.
  const key = `${q.start}\u0000${q.end}\u0000${q.interval}\u0000${q.timeZone ?? "UTC"}\u0000${q.weekStart ?? 1}`;
  const known = remembered.get(key);
  if (known) {
    remembered.delete(key);
    remembered.set(key, known);
    return known.slice();
  }
  const starts = computeBucketStarts(q);
  if (starts.length <= REMEMBER_MAX_STARTS) {
    remembered.set(key, starts.slice());
    if (remembered.size > REMEMBER_QUERIES) remembered.delete(remembered.keys().next().value!);
  }
  return starts;
}

/** Recent queries' bucket starts, least recently used first (a few KiB each). */
const remembered = new Map<string, Float64Array>();
const REMEMBER_QUERIES = 64;
const REMEMBER_MAX_STARTS = 4096;

function computeBucketStarts(q: BucketQuery): Float64Array {
  const { start, end, interval } = q;
  const timeZone = q.timeZone ?? "UTC";
  const weekStart = q.weekStart ?? 1;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end))
    throw new RangeError("range bounds must be integers (ms since epoch)");
  requireInstant("start", start);
  requireInstant("end", end);
  if (!(start < end)) throw new RangeError(`empty range: start ${start} must be before end ${end}`);
  if (!isInterval(interval)) throw new RangeError(`unknown interval: ${String(interval)}`);
  if (!Number.isInteger(weekStart) || weekStart < 1 || weekStart > 7)
    throw new RangeError(`weekStart must be an ISO weekday 1..7, got ${weekStart}`);
  const zone = requireZone(timeZone);

  if (interval === "total") return Float64Array.of(start);

  const out = new StartsBuilder(Math.min(estimateBucketCount(start, end, interval), 1 << 16));
  if (interval === "minute" || interval === "hour") {
    const unit = interval === "minute" ? MINUTE : HOUR;
    for (let b = clockBucketStart(zone, start, unit); b < end; ) {
      out.push(b);
      const next = nextClockBucket(zone, b, unit);
      if (!(next > b)) throw new Error(`time-buckets: no progress at ${b} in ${timeZone}`);
      b = next;
    }
    return out.finish(start);
  }

  let keyDay = keyStartDay(interval, localDay(zone, start), weekStart);
  for (;;) {
    let b = firstInstantAtOrAfter(zone, keyDay * DAY);
    // Safety net (needs two offset changes within 36 hours): the first bucket must contain `start`.
    if (out.length === 0 && b > start) b = start;
    if (b >= end) break;
    // A day skipped entirely (Pacific/Apia 2011-12-30) starts where the next one does: no bucket.
    if (b > out.last) out.push(b);
    keyDay = nextKeyDay(interval, keyDay);
  }
  return out.finish(start);
}

/**
 * Index of the bucket containing t: the largest i with starts[i] ≤ t, or -1 when t is before the first
 * start (or NaN, or `starts` is empty). Buckets are open-ended here: t at or after the range end maps
 * to the last bucket, so check `t < end` separately.
 */
export function bucketIndexOf(starts: Float64Array, t: number): number {
  let lo = 0;
  let hi = starts.length; // answer in [lo - 1, hi - 1]
  if (hi === 0 || !(t >= starts[0]!)) return -1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >>> 1;
    if (starts[mid]! <= t) lo = mid;
    else hi = mid;
  }
  return lo;
}
