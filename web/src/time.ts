/**
 * Time ranges in the viewer's time zone: the presets end at the next local midnight (so day buckets are
 * whole days), a custom range runs from the first day's local midnight to the midnight after the last day.
 */
import type { DashboardState, IntervalChoice } from "./state.ts";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export function browserTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}

export function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

const partsFormats = new Map<string, Intl.DateTimeFormat>();

/** The wall-clock fields of an instant in a zone. */
export function wallClock(ms: number, tz: string) {
  let format = partsFormats.get(tz);
  if (!format) {
    format = new Intl.DateTimeFormat("en-US", {
      timeZone: tz,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    });
    partsFormats.set(tz, format);
  }
  const fields: Record<string, number> = {};
  for (const part of format.formatToParts(ms)) {
    if (part.type !== "literal") fields[part.type] = Number(part.value);
  }
  return {
    year: fields.year!,
    month: fields.month!,
    day: fields.day!,
    hour: fields.hour!,
    minute: fields.minute!,
    second: fields.second!,
  };
}

/** The zone's offset from UTC at an instant, in ms (positive east of Greenwich). */
export function offsetAt(ms: number, tz: string): number {
  const w = wallClock(ms, tz);
  const asUtc = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second);
  return asUtc - Math.floor(ms / 1000) * 1000;
}

/**
 * The first instant of a local day. Where midnight does not exist (a DST jump at 00:00, as in Santiago),
 * the day starts at the end of the gap.
 */
export function startOfLocalDay(year: number, month: number, day: number, tz: string): number {
  const wall = Date.UTC(year, month - 1, day);
  // The offsets in force around that day (at most one change within a day either side).
  const offsets = new Set([offsetAt(wall - DAY, tz), offsetAt(wall, tz), offsetAt(wall + DAY, tz)]);
  let first = Number.POSITIVE_INFINITY;
  for (const offset of offsets) {
    const candidate = wall - offset;
    const w = wallClock(candidate, tz);
    if (Date.UTC(w.year, w.month - 1, w.day) >= wall && candidate < first) first = candidate;
  }
  return first;
}

function parseDay(text: string): [number, number, number] {
  const [y, m, d] = text.split("-").map(Number) as [number, number, number];
  return [y, m, d];
}

export interface ResolvedRange {
  start: number;
  end: number;
}

/** The [start, end) of the state's range, in ms; `now` is the clock. */
export function resolveRange(state: DashboardState, tz: string, now: number): ResolvedRange {
  if (state.range === "custom") {
    const [fy, fm, fd] = parseDay(state.from);
    const [ty, tm, td] = parseDay(state.to);
    const last = new Date(Date.UTC(ty, tm - 1, td) + DAY);
    return {
      start: startOfLocalDay(fy, fm, fd, tz),
      end: startOfLocalDay(last.getUTCFullYear(), last.getUTCMonth() + 1, last.getUTCDate(), tz),
    };
  }
  if (state.range === "24h") {
    const end = Math.ceil(now / 60_000) * 60_000;
    return { start: end - DAY, end };
  }
  const days = Number.parseInt(state.range, 10);
  const today = wallClock(now, tz);
  const at = (offsetDays: number) => {
    const d = new Date(Date.UTC(today.year, today.month - 1, today.day) + offsetDays * DAY);
    return startOfLocalDay(d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), tz);
  };
  return { start: at(1 - days), end: at(1) };
}

export type Bucket = Exclude<IntervalChoice, "auto">;

/** "auto": about 24 to 400 buckets for the span. */
export function effectiveInterval(choice: IntervalChoice, range: ResolvedRange): Bucket {
  if (choice !== "auto") return choice;
  const span = range.end - range.start;
  if (span <= 3 * DAY) return "hour";
  if (span <= 400 * DAY) return "day";
  if (span <= 5 * 365 * DAY) return "week";
  return "month";
}

/** `YYYY-MM-DD` of an instant in a zone (for date inputs). */
export function localDay(ms: number, tz: string): string {
  const w = wallClock(ms, tz);
  return `${w.year}-${String(w.month).padStart(2, "0")}-${String(w.day).padStart(2, "0")}`;
}

/** A bucket's label on a time axis. */
export function bucketLabel(ms: number, bucket: Bucket, tz: string): string {
  const w = wallClock(ms, tz);
  const date = `${w.year}-${String(w.month).padStart(2, "0")}-${String(w.day).padStart(2, "0")}`;
  if (bucket === "month") return date.slice(0, 7);
  if (bucket === "hour") return `${date} ${String(w.hour).padStart(2, "0")}:00`;
  return date;
}

/** An event time for the table: local date and time to the second. */
export function timeLabel(ms: number, tz: string): string {
  const w = wallClock(ms, tz);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${w.year}-${pad(w.month)}-${pad(w.day)} ${pad(w.hour)}:${pad(w.minute)}:${pad(w.second)}`;
}

/**
 * The index of the first bucket not over yet at `now` — the one `now` falls in, when the range runs past
 * it — or -1 when every bucket is complete. Its count is so far, not the bucket's: a chart that draws it
 * as the others would show a collapse at the end of every range that runs to the end of today.
 */
export function unfinishedFrom(buckets: readonly number[], rangeEnd: number, now: number): number {
  if (rangeEnd <= now || buckets.length === 0 || now < buckets[0]!) return -1;
  let i = buckets.length - 1;
  while (buckets[i]! > now) i--;
  return i;
}
