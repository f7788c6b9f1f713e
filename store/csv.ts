/**
 * CSV as docs/csv.md specifies it: RFC 4180 (CRLF line ends; a field with a comma, quote, CR or LF is
 * quoted and its quotes doubled), UTF-8, a header row. A string cell that a spreadsheet would run as a
 * formula (starting with =, +, -, @, tab or CR) is prefixed with ' ; numbers are written as they are.
 */
import type { JsonObject, JsonValue } from "./json.ts";
import { offsetMinutesAt } from "./time-buckets.ts";

export type Cell = string | number | boolean | null | undefined;

const FORMULA = /^[=+\-@\t\r]/;
const NEEDS_QUOTES = /[",\r\n]/;

export function csvCell(value: Cell): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "number") return Number.isFinite(value) ? String(value) : "";
  if (typeof value === "boolean") return value ? "true" : "false";
  const text = FORMULA.test(value) ? `'${value}` : value;
  return NEEDS_QUOTES.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function csvRow(cells: readonly Cell[]): string {
  let line = "";
  for (let i = 0; i < cells.length; i++) line += (i ? "," : "") + csvCell(cells[i]);
  return `${line}\r\n`;
}

/** An instant in ISO 8601 as the wall time of `timeZone`, with its offset: 2026-03-29T03:00:00+02:00. */
export function isoInZone(ms: number, timeZone: string): string {
  const offset = offsetMinutesAt(timeZone, ms);
  const local = new Date(ms + offset * 60_000).toISOString().slice(0, 19);
  const sign = offset < 0 ? "-" : "+";
  const abs = Math.abs(offset);
  return `${local}${sign}${String(Math.floor(abs / 60)).padStart(2, "0")}:${String(abs % 60).padStart(2, "0")}`;
}

/**
 * An event's data as CSV columns: nested objects flattened with dots, arrays (and empty objects) as JSON
 * text, null as an empty cell.
 */
export function flattenForCsv(
  data: JsonObject,
  out: Map<string, Cell> = new Map(),
  prefix = "",
): Map<string, Cell> {
  for (const key of Object.keys(data)) {
    const value = data[key] as JsonValue;
    const path = prefix ? `${prefix}.${key}` : key;
    if (
      value !== null &&
      typeof value === "object" &&
      !Array.isArray(value) &&
      Object.keys(value).length > 0
    ) {
      flattenForCsv(value, out, path);
    } else if (value !== null && typeof value === "object") {
      out.set(path, JSON.stringify(value));
    } else {
      out.set(path, value);
    }
  }
  return out;
}
