/**
 * CSV as docs/csv.md specifies it: RFC 4180 (CRLF line ends; a field with a comma, quote, CR or LF is
 * quoted and its quotes doubled), UTF-8, a header row. A string cell that a spreadsheet would run as a
 * formula (starting with =, +, -, @, tab or CR) is prefixed with ' ; numbers are written as they are.
 */
import { offsetMinutesAt } from "./time-buckets.ts";

export type Cell = string | number | boolean | null | undefined;

export function csvCell(value: Cell): string {
  if (typeof value === "string") return csvString(value);
  if (value === null || value === undefined) return "";
  if (typeof value === "number") return Number.isFinite(value) ? String(value) : "";
  return value ? "true" : "false";
}

/** A string cell; character tests instead of regular expressions, since every exported cell passes here. */
function csvString(value: string): string {
  if (value.length === 0) return value;
  const first = value.charCodeAt(0);
  // = + - @ tab CR: a spreadsheet would run the cell as a formula.
  const text =
    first === 61 || first === 43 || first === 45 || first === 64 || first === 9 || first === 13
      ? `'${value}`
      : value;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    // " , CR LF
    if (c === 34 || c === 44 || c === 13 || c === 10) return `"${text.replace(/"/g, '""')}"`;
  }
  return text;
}

export function csvRow(cells: readonly Cell[]): string {
  let line = "";
  for (let i = 0; i < cells.length; i++) line += (i ? "," : "") + csvCell(cells[i]);
  return `${line}\r\n`;
}

/**
 * An instant in ISO 8601 as the wall time of `timeZone`, with its offset: 2026-03-29T03:00:00+02:00. The
 * same instant as the bucketStart it stands for, to the millisecond: milliseconds are written when there
 * are any (a TOTAL bucket starts at range.start, whatever it is), and an offset of whole minutes and
 * seconds (Africa/Monrovia's -00:44:30, until 1972) with its seconds.
 */
export function isoInZone(ms: number, timeZone: string): string {
  const offsetSeconds = Math.round(offsetMinutesAt(timeZone, ms) * 60);
  const local = new Date(ms + offsetSeconds * 1000).toISOString();
  const wall = local.endsWith(".000Z") ? local.slice(0, 19) : local.slice(0, 23);
  const abs = Math.abs(offsetSeconds);
  const two = (n: number) => String(n).padStart(2, "0");
  const seconds = abs % 60 ? `:${two(abs % 60)}` : "";
  return `${wall}${offsetSeconds < 0 ? "-" : "+"}${two(Math.floor(abs / 3600))}:${two(Math.floor(abs / 60) % 60)}${seconds}`;
}
