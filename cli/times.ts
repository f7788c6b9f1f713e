/**
 * `--from`/`--to` values. Local dates and times are read in the query's time zone, because that is where its
 * buckets start: `--from 2026-03-01 --tz Europe/Berlin` means the first Berlin day of March, not 01:00 local.
 */
import { calendarFault } from "../functions/strict-timestamps.ts";
import { isValidTimeZone, offsetMinutesAt } from "../store/time-buckets.ts";
import { UsageError } from "./errors.ts";

const DAY = 86_400_000;

/** How far `zone`'s wall clock is ahead of UTC at the instant `ms` (the server's own, DST-tested rule). */
function zoneOffset(ms: number, zone: string): number {
  return offsetMinutesAt(zone, ms) * 60_000;
}

/** The instant a wall-clock time (given as if it were UTC) has in `zone`; the offset is checked twice for DST. */
function fromWallClock(wall: number, zone: string): number {
  const guess = wall - zoneOffset(wall, zone);
  return wall - zoneOffset(guess, zone);
}

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: DAY, w: 7 * DAY };

/**
 * `--from`/`--to`: an ISO instant, a local date or date-time (in `zone`, so that `--from 2026-03-01 --tz
 * Europe/Berlin` starts at the first Berlin bucket), or relative to `now`. `relative` says the answer
 * depends on when the command ran.
 */
export function parseTime(text: string, zone: string, now: number): { ms: number; relative: boolean } {
  const t = text.trim();
  if (t === "now") return { ms: now, relative: true };
  const local = isValidTimeZone(zone) ? zone : "UTC";
  if (t === "today") {
    const wall = now + zoneOffset(now, local);
    return { ms: fromWallClock(wall - (((wall % DAY) + DAY) % DAY), local), relative: true };
  }
  const rel = /^([+-])(\d+(?:\.\d+)?)([smhdw])$/.exec(t);
  if (rel) {
    const delta = Number(rel[2]) * UNITS[rel[3]!]!;
    return { ms: rel[1] === "-" ? now - delta : now + delta, relative: true };
  }
  const wall = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,3})?)?)?$/.exec(t);
  if (wall) {
    const [, y, mo, d, h = "00", mi = "00", s = "00", frac = ""] = wall;
    // Date.UTC would roll 2026-02-30 into March and 2026-13-01 into the next year.
    const fault = calendarFault(`${y}-${mo}-${d}T${h}:${mi}:${s}Z`);
    if (fault !== undefined) throw new UsageError(`${JSON.stringify(text)} is not a date: ${fault}`);
    const ms = Date.UTC(+y!, +mo! - 1, +d!, +h, +mi, +s, frac ? Math.round(Number(frac) * 1000) : 0);
    if (Number.isNaN(ms)) throw new UsageError(`${JSON.stringify(text)} is not a date`);
    return { ms: fromWallClock(ms, local), relative: false };
  }
  if (/^\d{4}-\d{2}-\d{2}T.*(Z|[+-]\d{2}:?\d{2})$/i.test(t)) {
    // Date.parse rolls 2026-02-30T00:00Z into March: the written date and time are checked first (seconds
    // and the offset's colon are optional here, so they are checked as if written out).
    const [, date, h, mi, s = "00"] = /^(\d{4}-\d{2}-\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?/i.exec(t) ?? [];
    const fault = date === undefined ? undefined : calendarFault(`${date}T${h}:${mi}:${s}Z`);
    if (fault !== undefined) throw new UsageError(`${JSON.stringify(text)} is not a time: ${fault}`);
    const ms = Date.parse(t);
    if (!Number.isNaN(ms)) return { ms, relative: false };
  }
  throw new UsageError(
    `${JSON.stringify(text)} is not a time: use 2026-03-01, 2026-03-01T09:30:00Z, now, today or -7d`,
  );
}
