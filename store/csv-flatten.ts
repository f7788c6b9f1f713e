/**
 * Flattens stored data JSON text straight into CSV cells, without building objects: exports read every
 * event, and JSON.parse plus a walk over the result cost more than the rest of a row together.
 *
 * The input is JSON.stringify output (segments store nothing else): no whitespace, canonical numbers. So an
 * array's cell is its own text, a number's cell is its own text (String(n) and JSON.stringify agree), and
 * only strings with escapes need decoding. The scanner keeps its state in module variables and creates no
 * functions per call: this runs once per exported event.
 *
 * A row's columns come out in the order of its text. That order is the row's CSV *shape*: compacted
 * segments store each row's shape (csvPaths at compaction), so an export learns its header without
 * reading the data, and fills a row by position (flattenCells) without building or looking up paths.
 */
import { csvCell } from "./csv.ts";

export type CellSink = (path: string, cell: string) => void;
export type PositionalSink = (k: number, cell: string) => void;

const PATHS = 0;
const CELLS = 1;
const BOTH = 2;

let text = "";
let pos = 0;
let mode = BOTH;
let sink: CellSink = () => {};
let positional: PositionalSink = () => {};
let paths: string[] = [];
let k = 0;

/** Calls `emit(path, cell)` with each column's ready CSV cell: nested objects by dotted path, arrays as JSON. */
export function flattenJsonText(json: string, emit: CellSink): void {
  text = json;
  pos = 0;
  mode = BOTH;
  sink = emit;
  object("", true);
}

/** The columns of `json` in the order flattenJsonText emits them, without producing any cell. */
export function csvPaths(json: string): string[] {
  text = json;
  pos = 0;
  mode = PATHS;
  const out: string[] = [];
  paths = out;
  object("", true);
  paths = [];
  return out;
}

/** Calls `emit(k, cell)` for the k-th column of `json` (the k-th of its csvPaths), building no paths. */
export function flattenCells(json: string, emit: PositionalSink): void {
  text = json;
  pos = 0;
  mode = CELLS;
  positional = emit;
  k = 0;
  object("", true);
}

function column(path: string, cell: () => string): void {
  if (mode === BOTH) sink(path, cell());
  else if (mode === PATHS) paths.push(path);
  else positional(k++, cell());
}

/** From an opening quote, the index after the closing one. */
function stringEnd(from: number): number {
  let j = from;
  for (;;) {
    j = text.indexOf('"', j + 1);
    // A quote preceded by an odd number of backslashes is escaped.
    let slashes = 0;
    while (text.charCodeAt(j - 1 - slashes) === 0x5c) slashes++;
    if (slashes % 2 === 0) return j + 1;
  }
}

function stringValue(from: number, end: number): string {
  const raw = text.slice(from + 1, end - 1);
  return raw.includes("\\") ? (JSON.parse(text.slice(from, end)) as string) : raw;
}

/** From `[` or `{`, the index after its matching close. */
function compositeEnd(from: number): number {
  let depth = 0;
  let j = from;
  for (;;) {
    const c = text.charCodeAt(j);
    if (c === 0x22) {
      j = stringEnd(j);
      continue;
    }
    if (c === 0x5b || c === 0x7b) depth++;
    else if (c === 0x5d || c === 0x7d) {
      depth--;
      if (depth === 0) return j + 1;
    }
    j++;
  }
}

// The cells, as functions of the scanner state so that PATHS mode never computes them.
let cellFrom = 0;
let cellEnd = 0;
const emptyObject = () => "{}";
const arrayCell = () => csvCell(text.slice(cellFrom, cellEnd));
const stringCell = () => csvCell(stringValue(cellFrom, cellEnd));
const literalCell = () => {
  const literal = text.slice(cellFrom, cellEnd);
  // Numbers and true/false are written as they are; null is an empty cell.
  return literal === "null" ? "" : literal;
};

/** At `{`: emits the object's columns under `prefix`; the top-level object itself is no column. */
function object(prefix: string, top: boolean): void {
  pos++;
  if (text.charCodeAt(pos) === 0x7d) {
    pos++;
    if (!top) column(prefix, emptyObject);
    return;
  }
  for (;;) {
    const keyEnd = stringEnd(pos);
    // Positional mode needs no path: the k-th column is known by its position.
    const path = mode === CELLS ? "" : join(prefix, stringValue(pos, keyEnd));
    pos = keyEnd + 1; // past the colon
    const c = text.charCodeAt(pos);
    if (c === 0x7b) object(path, false);
    else {
      cellFrom = pos;
      if (c === 0x5b) {
        cellEnd = compositeEnd(pos);
        column(path, arrayCell);
      } else if (c === 0x22) {
        cellEnd = stringEnd(pos);
        column(path, stringCell);
      } else {
        let end = pos;
        for (let d = text.charCodeAt(end); d !== 0x2c && d !== 0x7d; d = text.charCodeAt(++end));
        cellEnd = end;
        column(path, literalCell);
      }
      pos = cellEnd;
    }
    if (text.charCodeAt(pos++) !== 0x2c) return; // a closing brace
  }
}

function join(prefix: string, key: string): string {
  return prefix ? `${prefix}.${key}` : key;
}
