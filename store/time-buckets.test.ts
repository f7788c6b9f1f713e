import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  bucketIndexOf,
  bucketStarts,
  estimateBucketCount,
  type IntervalKind,
  isValidTimeZone,
  offsetMinutesAt,
} from "./time-buckets.ts";

// ---------------------------------------------------------------------------------------------------
// Brute-force reference: walk instants on a UTC grid, read the local calendar fields with our own
// Intl.DateTimeFormat, and start a bucket wherever the local key changes (for minute/hour also where
// the wall clock is set back). Independent of the module under test.

const MIN = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

interface Local {
  y: number;
  mo: number;
  d: number;
  h: number;
  mi: number;
  /** ISO weekday, 1 = Monday. */
  wd: number;
  /** Wall clock read as UTC, in ms. */
  wall: number;
}

const WEEKDAYS: Record<string, number> = { Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6, Sun: 7 };
const refFormatters = new Map<string, Intl.DateTimeFormat>();

function local(tz: string, t: number): Local {
  let f = refFormatters.get(tz);
  if (f === undefined) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone: tz,
      hourCycle: "h23",
      weekday: "short",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
    });
    refFormatters.set(tz, f);
  }
  const p: Record<string, string> = {};
  for (const part of f.formatToParts(t)) p[part.type] = part.value;
  const y = Number(p.year);
  const mo = Number(p.month);
  const d = Number(p.day);
  const h = Number(p.hour);
  const mi = Number(p.minute);
  const wd = WEEKDAYS[p.weekday ?? ""];
  if (wd === undefined) throw new Error(`weekday? ${p.weekday}`);
  return { y, mo, d, h, mi, wd, wall: Date.UTC(y, mo - 1, d, h, mi) };
}

function keyOf(l: Local, interval: IntervalKind, weekStart: number): string {
  switch (interval) {
    case "minute":
      return `${l.y}-${l.mo}-${l.d} ${l.h}:${l.mi}`;
    case "hour":
      return `${l.y}-${l.mo}-${l.d} ${l.h}`;
    case "day":
      return `${l.y}-${l.mo}-${l.d}`;
    case "week":
      return String(Date.UTC(l.y, l.mo - 1, l.d - ((l.wd - weekStart + 7) % 7)));
    case "month":
      return `${l.y}-${l.mo}`;
    case "total":
      return "";
  }
}

const LOOKBACK: Record<IntervalKind, number> = {
  minute: HOUR,
  hour: 3 * HOUR,
  day: 2 * DAY,
  week: 9 * DAY,
  month: 33 * DAY,
  total: 0,
};

interface Q {
  start: number;
  end: number;
  interval: IntervalKind;
  timeZone: string;
  weekStart?: number;
}

/** `step` must divide every offset change and bucket edge: 15 minutes for today's zones. */
function reference(q: Q, step = q.interval === "minute" ? MIN : 15 * MIN): number[] {
  if (q.interval === "total") return [q.start];
  const weekStart = q.weekStart ?? 1;
  const clock = q.interval === "minute" || q.interval === "hour";
  const edges: number[] = [];
  let g = Math.floor((q.start - LOOKBACK[q.interval]) / step) * step;
  let prev = local(q.timeZone, g);
  let prevKey = keyOf(prev, q.interval, weekStart);
  for (g += step; g < q.end; g += step) {
    const cur = local(q.timeZone, g);
    const key = keyOf(cur, q.interval, weekStart);
    if (key !== prevKey || (clock && cur.wall < prev.wall + step)) edges.push(g);
    prev = cur;
    prevKey = key;
  }
  const firstInside = edges.findIndex((e) => e > q.start);
  const before = firstInside === -1 ? edges.length : firstInside;
  if (before === 0) throw new Error("reference lookback too short");
  return edges.slice(before - 1);
}

function starts(q: Q): number[] {
  return [...bucketStarts(q)];
}

const iso = (s: string): number => {
  const t = Date.parse(s);
  if (Number.isNaN(t)) throw new Error(s);
  return t;
};

/** Local "YYYY-MM-DD HH:MM" of t in tz, read with the reference formatter. */
function wallText(tz: string, t: number): string {
  const l = local(tz, t);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${l.y}-${pad(l.mo)}-${pad(l.d)} ${pad(l.h)}:${pad(l.mi)}`;
}

function lengths(s: number[], end: number): number[] {
  return s.map((x, i) => (s[i + 1] ?? end) - x);
}

/** Checks the partition contract and compares with the brute-force reference. */
function checkAgainstReference(q: Q, step?: number): number[] {
  const got = starts(q);
  expect(got.length).toBeGreaterThan(0);
  expect(got[0]!).toBeLessThanOrEqual(q.start);
  for (let i = 1; i < got.length; i++) {
    expect(got[i]!).toBeGreaterThan(got[i - 1]!);
    expect(got[i]!).toBeGreaterThan(q.start);
    expect(got[i]!).toBeLessThan(q.end);
  }
  expect(got).toEqual(reference(q, step));
  return got;
}

// ---------------------------------------------------------------------------------------------------

describe("isValidTimeZone", () => {
  it("accepts IANA names and refuses the rest", () => {
    for (const ok of [
      "UTC",
      "Etc/GMT+5",
      "Europe/Berlin",
      "Asia/Kolkata",
      "Australia/Lord_Howe",
      "Pacific/Apia",
    ])
      expect(isValidTimeZone(ok), ok).toBe(true);
    for (const bad of [
      "Mars/Base",
      "",
      "Europe/Berlin ",
      "+05:30",
      "Not a zone",
      `Europe/${"x".repeat(500)}`,
    ])
      expect(isValidTimeZone(bad), bad).toBe(false);
    // cached answers stay the same
    expect(isValidTimeZone("Mars/Base")).toBe(false);
    expect(isValidTimeZone("Europe/Berlin")).toBe(true);
  });
});

describe("offsetMinutesAt", () => {
  it("matches known offsets, including non-whole-hour zones and the exact DST switch", () => {
    expect(offsetMinutesAt("UTC", iso("2026-06-01T00:00:00Z"))).toBe(0);
    expect(offsetMinutesAt("Etc/GMT+5", iso("2026-06-01T00:00:00Z"))).toBe(-300);
    expect(offsetMinutesAt("Asia/Kolkata", iso("2026-06-01T00:00:00Z"))).toBe(330);
    expect(offsetMinutesAt("Asia/Kathmandu", iso("2026-06-01T00:00:00Z"))).toBe(345);
    expect(offsetMinutesAt("Australia/Lord_Howe", iso("2026-06-01T00:00:00Z"))).toBe(630);
    expect(offsetMinutesAt("Australia/Lord_Howe", iso("2026-01-01T00:00:00Z"))).toBe(660);
    expect(offsetMinutesAt("Europe/Berlin", iso("2026-01-15T12:00:00Z"))).toBe(60);
    const spring = iso("2026-03-29T01:00:00Z");
    expect(offsetMinutesAt("Europe/Berlin", spring - 1)).toBe(60);
    expect(offsetMinutesAt("Europe/Berlin", spring)).toBe(120);
    const fall = iso("2026-10-25T01:00:00Z");
    expect(offsetMinutesAt("Europe/Berlin", fall - 1)).toBe(120);
    expect(offsetMinutesAt("Europe/Berlin", fall)).toBe(60);
    expect(offsetMinutesAt("Pacific/Apia", iso("2011-12-30T09:59:59Z"))).toBe(-600);
    expect(offsetMinutesAt("Pacific/Apia", iso("2011-12-30T10:00:00Z"))).toBe(840);
  });

  it("agrees with the reference formatter every 15 minutes over a year", () => {
    for (const tz of ["America/New_York", "Australia/Lord_Howe", "America/Santiago"]) {
      for (let t = iso("2026-01-01T00:00:00Z"); t < iso("2027-01-01T00:00:00Z"); t += 15 * MIN) {
        const l = local(tz, t);
        if (offsetMinutesAt(tz, t) !== (l.wall - t) / MIN) {
          expect.unreachable(`${tz} at ${new Date(t).toISOString()}`);
        }
      }
    }
  });

  it("refuses unknown zones and bad instants", () => {
    expect(() => offsetMinutesAt("Mars/Base", 0)).toThrow(RangeError);
    expect(() => offsetMinutesAt("UTC", Number.NaN)).toThrow(RangeError);
    expect(() => offsetMinutesAt("UTC", 9e15)).toThrow(RangeError);
  });
});

describe("bucketStarts: DST days", () => {
  it("Europe/Berlin 2026-03-29 is a 23-hour day with 23 hour buckets (02:00 skipped)", () => {
    const tz = "Europe/Berlin";
    const days = checkAgainstReference({
      start: iso("2026-03-28T12:00:00Z"),
      end: iso("2026-03-31T00:00:00Z"),
      interval: "day",
      timeZone: tz,
    });
    expect(days).toEqual([
      iso("2026-03-27T23:00:00Z"),
      iso("2026-03-28T23:00:00Z"),
      iso("2026-03-29T22:00:00Z"),
      iso("2026-03-30T22:00:00Z"),
    ]);
    expect(days[2]! - days[1]!).toBe(23 * HOUR);
    const hours = checkAgainstReference({ start: days[1]!, end: days[2]!, interval: "hour", timeZone: tz });
    expect(hours).toHaveLength(23);
    expect(hours.map((t) => wallText(tz, t).slice(11))).not.toContain("02:00");
    expect(lengths(hours, days[2]!).every((l) => l === HOUR)).toBe(true);
  });

  it("Europe/Berlin 2026-10-25 is a 25-hour day; the repeated 02:00 hour is two buckets", () => {
    const tz = "Europe/Berlin";
    const days = checkAgainstReference({
      start: iso("2026-10-24T22:00:00Z"),
      end: iso("2026-10-26T23:00:00Z"),
      interval: "day",
      timeZone: tz,
    });
    expect(days).toEqual([iso("2026-10-24T22:00:00Z"), iso("2026-10-25T23:00:00Z")]);
    expect(days[1]! - days[0]!).toBe(25 * HOUR);
    const hours = checkAgainstReference({ start: days[0]!, end: days[1]!, interval: "hour", timeZone: tz });
    expect(hours).toHaveLength(25);
    expect(hours).toContain(iso("2026-10-25T00:00:00Z")); // 02:00 CEST
    expect(hours).toContain(iso("2026-10-25T01:00:00Z")); // 02:00 CET
    expect(hours.filter((t) => wallText(tz, t).endsWith(" 02:00"))).toHaveLength(2);
    // minutes through the switch: 02:59 CEST is followed by a new 02:00 CET minute bucket
    const minutes = checkAgainstReference({
      start: iso("2026-10-25T00:58:00Z"),
      end: iso("2026-10-25T01:02:00Z"),
      interval: "minute",
      timeZone: tz,
    });
    expect(minutes.map((t) => wallText(tz, t).slice(11))).toEqual(["02:58", "02:59", "02:00", "02:01"]);
  });

  it("Australia/Sydney 2026-04-05 lasts 25 hours and 2026-10-04 lasts 23 hours", () => {
    const tz = "Australia/Sydney";
    const april = checkAgainstReference({
      start: iso("2026-04-04T13:00:00Z"),
      end: iso("2026-04-05T14:00:00Z"),
      interval: "day",
      timeZone: tz,
    });
    expect(april).toEqual([iso("2026-04-04T13:00:00Z")]);
    expect(
      checkAgainstReference({
        start: april[0]!,
        end: iso("2026-04-05T14:00:00Z"),
        interval: "hour",
        timeZone: tz,
      }),
    ).toHaveLength(25);
    const october = checkAgainstReference({
      start: iso("2026-10-03T12:00:00Z"),
      end: iso("2026-10-05T12:00:00Z"),
      interval: "day",
      timeZone: tz,
    });
    expect(october).toEqual([
      iso("2026-10-02T14:00:00Z"),
      iso("2026-10-03T14:00:00Z"),
      iso("2026-10-04T13:00:00Z"),
    ]);
    expect(october[2]! - october[1]!).toBe(23 * HOUR);
    expect(
      checkAgainstReference({ start: october[1]!, end: october[2]!, interval: "hour", timeZone: tz }),
    ).toHaveLength(23);
  });

  it("America/Santiago: days starting at 01:00 (no midnight) and 25-hour Saturdays", () => {
    const tz = "America/Santiago";
    const sept = checkAgainstReference({
      start: iso("2026-09-04T12:00:00Z"),
      end: iso("2026-09-08T00:00:00Z"),
      interval: "day",
      timeZone: tz,
    });
    expect(sept.map((t) => wallText(tz, t))).toEqual([
      "2026-09-04 00:00",
      "2026-09-05 00:00",
      "2026-09-06 01:00",
      "2026-09-07 00:00",
    ]);
    expect(sept[2]! - sept[1]!).toBe(DAY); // Saturday 00:00 to 24:00, which is Sunday 01:00
    expect(sept[3]! - sept[2]!).toBe(23 * HOUR);
    const april = checkAgainstReference({
      start: iso("2026-04-04T03:00:00Z"),
      end: iso("2026-04-06T04:00:00Z"),
      interval: "day",
      timeZone: tz,
    });
    expect(april[1]! - april[0]!).toBe(25 * HOUR);
    checkAgainstReference({
      start: iso("2026-09-05T20:00:00Z"),
      end: iso("2026-09-06T08:00:00Z"),
      interval: "hour",
      timeZone: tz,
    });
    checkAgainstReference({
      start: iso("2026-04-05T01:00:00Z"),
      end: iso("2026-04-05T06:00:00Z"),
      interval: "hour",
      timeZone: tz,
    });
    checkAgainstReference({
      start: iso("2026-08-20T00:00:00Z"),
      end: iso("2026-10-20T00:00:00Z"),
      interval: "week",
      timeZone: tz,
    });
  });

  it("America/Havana: the spring-forward day starts at 01:00", () => {
    const tz = "America/Havana";
    const days = checkAgainstReference({
      start: iso("2026-03-07T12:00:00Z"),
      end: iso("2026-03-10T00:00:00Z"),
      interval: "day",
      timeZone: tz,
    });
    expect(days.map((t) => wallText(tz, t))).toEqual([
      "2026-03-07 00:00",
      "2026-03-08 01:00",
      "2026-03-09 00:00",
    ]);
  });

  it("Australia/Lord_Howe: 30-minute DST makes 24.5- and 23.5-hour days", () => {
    const tz = "Australia/Lord_Howe";
    const april = checkAgainstReference({
      start: iso("2026-04-04T13:00:00Z"), // 2026-04-05 00:00 +11:00
      end: iso("2026-04-06T12:00:00Z"),
      interval: "day",
      timeZone: tz,
    });
    expect(wallText(tz, april[0]!)).toBe("2026-04-05 00:00");
    expect(april[1]! - april[0]!).toBe(24.5 * HOUR);
    const aprilHours = checkAgainstReference({
      start: april[0]!,
      end: april[1]!,
      interval: "hour",
      timeZone: tz,
    });
    expect(aprilHours).toHaveLength(25); // 01:00 (DST), 01:30 (standard, 30 min), ...
    expect(aprilHours.filter((t) => wallText(tz, t).endsWith(" 01:30"))).toHaveLength(1);
    const october = checkAgainstReference({
      start: iso("2026-10-03T12:00:00Z"),
      end: iso("2026-10-05T12:00:00Z"),
      interval: "day",
      timeZone: tz,
    });
    expect(october[2]! - october[1]!).toBe(23.5 * HOUR);
    const octHours = checkAgainstReference({
      start: october[1]!,
      end: october[2]!,
      interval: "hour",
      timeZone: tz,
    });
    expect(octHours).toHaveLength(24); // 02:30..03:00 is a 30-minute hour bucket
    expect(octHours.map((t) => wallText(tz, t).slice(11))).toContain("02:30");
  });

  it("Pacific/Apia skipped 2011-12-30: no bucket for that day", () => {
    const tz = "Pacific/Apia";
    const days = checkAgainstReference({
      start: iso("2011-12-28T12:00:00Z"),
      end: iso("2011-12-31T12:00:00Z"), // 2012-01-01 02:00 +14:00
      interval: "day",
      timeZone: tz,
    });
    expect(days.map((t) => wallText(tz, t))).toEqual([
      "2011-12-28 00:00",
      "2011-12-29 00:00",
      "2011-12-31 00:00",
      "2012-01-01 00:00",
    ]);
    expect(days[2]! - days[1]!).toBe(DAY); // Dec 29 lasted 24 hours, then the clock jumped a day
    checkAgainstReference({
      start: iso("2011-12-29T20:00:00Z"),
      end: iso("2011-12-30T14:00:00Z"),
      interval: "hour",
      timeZone: tz,
    });
    checkAgainstReference({
      start: iso("2011-12-01T00:00:00Z"),
      end: iso("2012-01-20T00:00:00Z"),
      interval: "week",
      timeZone: tz,
    });
    checkAgainstReference({
      start: iso("2011-11-01T00:00:00Z"),
      end: iso("2012-02-20T00:00:00Z"),
      interval: "month",
      timeZone: tz,
    });
  });
  it("America/St_Johns 2001-10-28: set back at 00:01 to 23:01, still one bucket per day", () => {
    // The brute-force key walk would split this day into three runs (28th, 27th again, 28th); the contract
    // is one bucket per local day from its first instant, so the repeated hour of the 27th joins the 28th.
    const tz = "America/St_Johns";
    const days = starts({
      start: iso("2001-10-27T12:00:00Z"),
      end: iso("2001-10-29T12:00:00Z"),
      interval: "day",
      timeZone: tz,
    });
    expect(days).toEqual([
      iso("2001-10-27T02:30:00Z"),
      iso("2001-10-28T02:30:00Z"),
      iso("2001-10-29T03:30:00Z"),
    ]);
    expect(days[2]! - days[1]!).toBe(25 * HOUR);
    expect(wallText(tz, days[1]!)).toBe("2001-10-28 00:00");
    // a range starting inside the repeated 23:xx still gets the bucket of the 28th as its first
    const inside = iso("2001-10-28T03:00:00Z");
    expect(wallText(tz, inside)).toBe("2001-10-27 23:30");
    expect(starts({ start: inside, end: inside + HOUR, interval: "day", timeZone: tz })).toEqual([days[1]]);
    // hours do follow the wall clock: 00:00 NDT lasts one minute, then 23:01 NST starts a new bucket
    const hours = checkAgainstReference(
      {
        start: iso("2001-10-28T01:00:00Z"),
        end: iso("2001-10-28T05:00:00Z"),
        interval: "hour",
        timeZone: tz,
      },
      MIN,
    ); // the switch is at 00:01 local: walk every minute
    expect(hours.map((t) => wallText(tz, t).slice(11))).toEqual([
      "22:00",
      "23:00",
      "00:00",
      "23:01",
      "00:00",
      "01:00",
    ]);
  });
});

describe("bucketStarts: alignment", () => {
  it("Asia/Kolkata and Asia/Kathmandu hours start at :30 and :15 UTC", () => {
    const kolkata = checkAgainstReference({
      start: iso("2026-05-01T00:00:00Z"),
      end: iso("2026-05-02T00:00:00Z"),
      interval: "hour",
      timeZone: "Asia/Kolkata",
    });
    expect(kolkata[0]).toBe(iso("2026-04-30T23:30:00Z"));
    expect(kolkata.every((t) => new Date(t).getUTCMinutes() === 30)).toBe(true);
    const kathmandu = checkAgainstReference({
      start: iso("2026-05-01T00:00:00Z"),
      end: iso("2026-05-02T00:00:00Z"),
      interval: "hour",
      timeZone: "Asia/Kathmandu",
    });
    expect(kathmandu[0]).toBe(iso("2026-04-30T23:15:00Z"));
    expect(kathmandu.every((t) => new Date(t).getUTCMinutes() === 15)).toBe(true);
    const days = checkAgainstReference({
      start: iso("2026-05-01T00:00:00Z"),
      end: iso("2026-05-04T00:00:00Z"),
      interval: "day",
      timeZone: "Asia/Kathmandu",
    });
    expect(days[0]).toBe(iso("2026-04-30T18:15:00Z"));
  });

  it("UTC buckets are plain multiples", () => {
    const q = { start: iso("2026-02-10T10:17:03.5Z") + 0.5, end: iso("2026-02-11T00:00:00Z") };
    expect(() => bucketStarts({ ...q, interval: "hour", timeZone: "UTC" })).toThrow(RangeError); // non-integer
    const start = iso("2026-02-10T10:17:03Z");
    const hours = checkAgainstReference({ start, end: q.end, interval: "hour", timeZone: "UTC" });
    expect(hours).toEqual(Array.from({ length: 14 }, (_, i) => iso("2026-02-10T10:00:00Z") + i * HOUR));
    const minutes = checkAgainstReference({
      start,
      end: start + 5 * MIN,
      interval: "minute",
      timeZone: "UTC",
    });
    expect(minutes[0]).toBe(iso("2026-02-10T10:17:00Z"));
    expect(minutes).toHaveLength(6);
    expect(
      starts({
        start: iso("2026-02-04T00:00:00Z"),
        end: iso("2026-02-05T00:00:00Z"),
        interval: "week",
        timeZone: "UTC",
      }),
    ).toEqual([iso("2026-02-02T00:00:00Z")]); // Monday
  });

  it("weekStart Sunday and Wednesday", () => {
    const tz = "Europe/Berlin";
    const range = {
      start: iso("2026-03-01T10:00:00Z"),
      end: iso("2026-05-01T00:00:00Z"),
      interval: "week" as const,
      timeZone: tz,
    };
    const monday = checkAgainstReference(range);
    const sunday = checkAgainstReference({ ...range, weekStart: 7 });
    const wednesday = checkAgainstReference({ ...range, weekStart: 3 });
    expect(monday.every((t) => local(tz, t).wd === 1)).toBe(true);
    expect(sunday.every((t) => local(tz, t).wd === 7)).toBe(true);
    expect(wednesday.every((t) => local(tz, t).wd === 3)).toBe(true);
    for (const s of [monday, sunday, wednesday])
      expect(s.every((t) => wallText(tz, t).endsWith(" 00:00"))).toBe(true);
    // 2026-03-01 is a Sunday: the Sunday week starts that day, the Wednesday week on 2026-02-25.
    expect(wallText(tz, sunday[0]!)).toBe("2026-03-01 00:00");
    expect(wallText(tz, wednesday[0]!)).toBe("2026-02-25 00:00");
    expect(wallText(tz, monday[0]!)).toBe("2026-02-23 00:00");
    // the week containing the 2026-03-29 switch is an hour short
    const short = lengths(monday, range.end).filter((l) => l !== 7 * DAY);
    expect(short).toEqual([7 * DAY - HOUR, lengths(monday, range.end).at(-1)!]);
  });

  it("months across a year, with range edges exactly on bucket edges", () => {
    const tz = "Europe/Berlin";
    const start = iso("2025-12-31T23:00:00Z"); // 2026-01-01 00:00 local
    const end = iso("2026-12-31T23:00:00Z"); // 2027-01-01 00:00 local
    const months = checkAgainstReference({ start, end, interval: "month", timeZone: tz });
    expect(months).toHaveLength(12);
    expect(months[0]).toBe(start);
    expect(months.map((t) => wallText(tz, t))).toEqual(
      Array.from({ length: 12 }, (_, i) => `2026-${String(i + 1).padStart(2, "0")}-01 00:00`),
    );
    // one ms later at both ends: the first bucket still starts at `start`, and 2027-01 joins
    const shifted = checkAgainstReference({
      start: start + 1,
      end: end + 1,
      interval: "month",
      timeZone: tz,
    });
    expect(shifted).toEqual([...months, end]);
    // edges for hours and days too
    const dayEdge = iso("2026-10-24T22:00:00Z");
    const days = checkAgainstReference({
      start: dayEdge,
      end: dayEdge + 25 * HOUR,
      interval: "day",
      timeZone: tz,
    });
    expect(days).toEqual([dayEdge]);
    const hours = checkAgainstReference({
      start: dayEdge,
      end: dayEdge + 3 * HOUR,
      interval: "hour",
      timeZone: tz,
    });
    expect(hours).toEqual([dayEdge, dayEdge + HOUR, dayEdge + 2 * HOUR]);
    expect(starts({ start: dayEdge - 1, end: dayEdge + 1, interval: "day", timeZone: tz })).toEqual([
      dayEdge - DAY,
      dayEdge,
    ]);
  });

  it("total is exactly one bucket starting at range.start", () => {
    const q = {
      start: iso("2026-03-29T00:17:00Z"),
      end: iso("2026-11-01T00:00:00Z"),
      timeZone: "Europe/Berlin",
    };
    expect(starts({ ...q, interval: "total" })).toEqual([q.start]);
    expect(starts({ start: 5, end: 6, interval: "total", timeZone: "UTC" })).toEqual([5]);
  });

  it("rejects bad queries", () => {
    const ok = { start: 0, end: DAY, interval: "day" as const, timeZone: "UTC" };
    expect(() => bucketStarts({ ...ok, end: 0 })).toThrow(RangeError);
    expect(() => bucketStarts({ ...ok, end: -1 })).toThrow(RangeError);
    expect(() => bucketStarts({ ...ok, timeZone: "Mars/Base" })).toThrow(RangeError);
    expect(() => bucketStarts({ ...ok, weekStart: 0 })).toThrow(RangeError);
    expect(() => bucketStarts({ ...ok, weekStart: 8 })).toThrow(RangeError);
    expect(() => bucketStarts({ ...ok, interval: "year" as IntervalKind })).toThrow(RangeError);
    expect(() => bucketStarts({ ...ok, start: Number.NaN })).toThrow(RangeError);
    expect(starts({ start: 0, end: DAY, interval: "day", timeZone: undefined as unknown as string })).toEqual(
      [0],
    );
  });
});

describe("bucketIndexOf", () => {
  it("finds the containing bucket by binary search", () => {
    const s = bucketStarts({
      start: iso("2026-10-24T20:30:00Z"),
      end: iso("2026-10-25T04:00:00Z"),
      interval: "hour",
      timeZone: "Europe/Berlin",
    });
    expect(bucketIndexOf(s, s[0]! - 1)).toBe(-1);
    expect(bucketIndexOf(s, Number.NaN)).toBe(-1);
    expect(bucketIndexOf(new Float64Array(0), 0)).toBe(-1);
    for (let i = 0; i < s.length; i++) {
      expect(bucketIndexOf(s, s[i]!)).toBe(i);
      expect(bucketIndexOf(s, s[i]! + 1)).toBe(i);
      if (i > 0) expect(bucketIndexOf(s, s[i]! - 1)).toBe(i - 1);
    }
    expect(bucketIndexOf(s, iso("2026-10-25T01:30:00Z"))).toBe(bucketIndexOf(s, iso("2026-10-25T01:00:00Z")));
    expect(bucketIndexOf(s, iso("2026-10-25T00:59:59Z"))).toBe(
      bucketIndexOf(s, iso("2026-10-25T01:00:00Z")) - 1,
    );
  });
});

describe("estimateBucketCount and speed", () => {
  it("estimates cheaply, without Intl, and refuses nothing by itself", () => {
    const century = 100 * 365.25 * DAY;
    expect(estimateBucketCount(0, century, "minute")).toBeGreaterThan(5e7);
    expect(estimateBucketCount(0, century, "total")).toBe(1);
    expect(estimateBucketCount(5, 5, "day")).toBe(0);
    const year = {
      start: iso("2026-01-01T00:00:00Z"),
      end: iso("2027-01-01T00:00:00Z"),
      timeZone: "Europe/Berlin",
    };
    for (const interval of ["hour", "day", "week", "month"] as const) {
      const real = bucketStarts({ ...year, interval }).length;
      const est = estimateBucketCount(year.start, year.end, interval);
      expect(est).toBeGreaterThanOrEqual(real);
      expect(est).toBeLessThanOrEqual(real * 1.25 + 2);
    }
  });

  it("generates 100,000 minute buckets quickly", () => {
    const start = iso("2033-01-01T00:00:00Z"); // not used elsewhere: the offset cache is cold
    const q = {
      start,
      end: start + 100_000 * MIN,
      interval: "minute" as const,
      timeZone: "America/New_York",
    };
    let t0 = performance.now();
    const cold = bucketStarts(q);
    const coldMs = performance.now() - t0;
    t0 = performance.now();
    const warm = bucketStarts(q);
    const warmMs = performance.now() - t0;
    expect(cold.length).toBe(100_000);
    expect(warm.length).toBe(cold.length);
    let same = true;
    for (let i = 0; i < cold.length; i++) same &&= warm[i] === cold[i] && cold[i] === start + i * MIN;
    expect(same).toBe(true);
    expect(coldMs).toBeLessThan(500);
    expect(warmMs).toBeLessThan(150);
  });
});

// ---------------------------------------------------------------------------------------------------

const ZONES = [
  "UTC",
  "Europe/Berlin",
  "Europe/London",
  "America/New_York",
  "America/Los_Angeles",
  "America/Santiago",
  "America/Havana",
  "America/Sao_Paulo",
  "Australia/Sydney",
  "Australia/Lord_Howe",
  "Asia/Kolkata",
  "Asia/Kathmandu",
  "Pacific/Apia",
  "Pacific/Chatham",
  "Africa/Casablanca",
  "Asia/Tehran",
] as const;
const INTERVALS: readonly IntervalKind[] = ["minute", "hour", "day", "week", "month", "total"];

describe("property: random zones, ranges and intervals match the brute-force reference", () => {
  it("partitions every range exactly like the reference", () => {
    const lo = iso("2011-06-01T00:00:00Z");
    const hi = iso("2037-01-01T00:00:00Z");
    fc.assert(
      fc.property(
        fc.constantFrom(...ZONES),
        fc.constantFrom(...INTERVALS),
        fc.oneof(
          fc.integer({ min: lo, max: hi }),
          fc.integer({ min: lo / (15 * MIN), max: hi / (15 * MIN) }).map((k) => k * 15 * MIN),
        ),
        fc.integer({ min: 1, max: 60 * DAY }),
        fc.integer({ min: 1, max: 7 }),
        (timeZone, interval, start, span, weekStart) => {
          // minute buckets: the reference walks every minute, so keep those ranges to 2 days
          const end = start + (interval === "minute" ? 1 + (span % (2 * DAY)) : span);
          const q = { start, end, interval, timeZone, weekStart };
          const got = checkAgainstReference(q);
          expect(estimateBucketCount(start, end, interval)).toBeGreaterThanOrEqual(got.length / 2);
          const arr = Float64Array.from(got);
          for (const t of [start, end - 1, start + Math.floor((end - start) / 2)]) {
            const i = bucketIndexOf(arr, t);
            expect(got[i]!).toBeLessThanOrEqual(t);
            if (i + 1 < got.length) expect(got[i + 1]!).toBeGreaterThan(t);
          }
        },
      ),
      { numRuns: 50 },
    );
  });
});

describe("bucketStarts, asked again", () => {
  it("answers a repeated query with the same starts, each caller with a copy of its own", () => {
    const q = {
      start: Date.UTC(2026, 0, 1),
      end: Date.UTC(2026, 6, 1),
      interval: "day" as const,
      timeZone: "Asia/Kathmandu",
    };
    const first = bucketStarts(q);
    const expected = [...first];
    first.fill(0);
    expect([...bucketStarts(q)]).toEqual(expected);
    const again = bucketStarts(q);
    again[0] = 1;
    expect([...bucketStarts(q)]).toEqual(expected);
    // Another zone, week start or range is another query.
    expect(bucketStarts({ ...q, timeZone: "UTC" })[0]).toBe(q.start);
    expect(bucketStarts({ ...q, interval: "week", weekStart: 7 })).not.toEqual(
      bucketStarts({ ...q, interval: "week", weekStart: 1 }),
    );
    expect(bucketStarts({ ...q, end: q.end + DAY }).length).toBe(expected.length + 1);
  });
});
