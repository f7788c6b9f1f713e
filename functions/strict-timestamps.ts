/**
 * RFC 3339 strictly: @bufbuild/protobuf reads a JSON Timestamp with the RFC's pattern, then `Date.parse`,
 * which rolls a day the month lacks into the next month and reads `24:00:00` as the next midnight. So
 * `"2026-02-30T00:00:00Z"` would be stored as 2 March, and a range ending `T24:00:00Z` would end a day
 * later than it reads. protojson (Go) refuses both, and so does Tally: `events[3].time: …`, nothing stored.
 *
 * JSON requests only (binary Timestamps are seconds, with no calendar to get wrong). The request's text is
 * searched for date-times first; only one that names no real instant makes the request be parsed and its
 * Timestamp fields walked, so that a string like it inside an event's free `data` is left alone.
 * Runtime-neutral.
 */
import type { DescField, DescMessage, JsonValue } from "@bufbuild/protobuf";
import { isLeafMessage, isObject, join } from "./json-error-path.ts";

const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d{1,9})?(?:Z|[+-](\d{2}):(\d{2}))$/i;
const ESCAPED_DATE_CHARACTER = /\\u00(?:3[0-9a]|2[bde]|[57][4a])/i;
const QUOTED_DATE_TIME = /"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2}))"/gi;

const MONTHS = [
  "January",
  "February",
  "March",
  "April",
  "May",
  "June",
  "July",
  "August",
  "September",
  "October",
  "November",
  "December",
];

/** Days in a month (1–12) of the proleptic Gregorian calendar, as RFC 3339 counts them. */
export function daysInMonth(year: number, month: number): number {
  if (month !== 2) return [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]!;
  return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
}

/**
 * Why an RFC 3339 date-time names no real instant (`February 2026 has 28 days`), or undefined when it does
 * — or when it is not of that form at all, which is for the caller's parser to refuse.
 */
export function calendarFault(text: string): string | undefined {
  const m = DATE_TIME.exec(text);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as number[] as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (month < 1 || month > 12) return `there is no month ${m[2]}`;
  const days = daysInMonth(year, month);
  if (day < 1 || day > days) return `${MONTHS[month - 1]} ${m[1]} has ${days} days`;
  if (hour > 23) return "hours run from 00 to 23";
  if (minute > 59) return "minutes run from 00 to 59";
  if (second > 59) return "seconds run from 00 to 59 (no leap seconds)";
  if (m[7] !== undefined && (Number(m[7]) > 23 || Number(m[8]) > 59)) return "the UTC offset is out of range";
  return undefined;
}

/** The first Timestamp field of a JSON request whose text names no real instant, as an error message. */
export function timestampFault(schema: DescMessage, text: string): string | undefined {
  // A \u escape of a digit or of T, Z, :, +, -, . could spell a date-time the search below cannot see.
  let suspect = ESCAPED_DATE_CHARACTER.test(text);
  if (!suspect)
    for (const match of text.matchAll(QUOTED_DATE_TIME)) {
      if (calendarFault(match[1]!) !== undefined) {
        suspect = true;
        break;
      }
    }
  if (!suspect) return undefined;
  let json: JsonValue;
  try {
    json = JSON.parse(text) as JsonValue;
  } catch {
    return undefined; // the decoder's own error will say what is wrong with it
  }
  return walk(schema, json, "");
}

const isTimestamp = (m: DescMessage) => m.typeName === "google.protobuf.Timestamp";

function walk(schema: DescMessage, json: JsonValue, path: string): string | undefined {
  if (!isObject(json)) return undefined;
  for (const [key, value] of Object.entries(json)) {
    const field = schema.fields.find((f) => f.jsonName === key || f.name === key);
    if (!field) continue;
    const at = join(path, field.jsonName);
    const fault = fieldFault(field, value, at);
    if (fault !== undefined) return fault;
  }
  return undefined;
}

function fieldFault(field: DescField, value: JsonValue, at: string): string | undefined {
  if (field.fieldKind === "message") return messageFault(field.message, value, at);
  if (field.fieldKind === "list" && field.listKind === "message" && Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const fault = messageFault(field.message, value[i]!, `${at}[${i}]`);
      if (fault !== undefined) return fault;
    }
  }
  return undefined;
}

function messageFault(message: DescMessage, value: JsonValue, at: string): string | undefined {
  if (isTimestamp(message)) {
    const why = typeof value === "string" ? calendarFault(value) : undefined;
    return why === undefined ? undefined : `${at}: invalid RFC 3339 string ${JSON.stringify(value)}: ${why}`;
  }
  // Struct, Value and the other well-known types hold free JSON or scalars: nothing of ours inside.
  return isLeafMessage(message) ? undefined : walk(message, value, at);
}
