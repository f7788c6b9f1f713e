/**
 * Flattens stored data JSON text straight into CSV cells, without building objects: exports read every
 * event, and JSON.parse plus a walk over the result cost more than the rest of a row together.
 *
 * The input is JSON.stringify output (segments store nothing else): no whitespace, canonical numbers. So an
 * array's cell is its own text, a number's cell is its own text (String(n) and JSON.stringify agree), and
 * only strings with escapes need decoding. The scanner keeps its state in module variables and creates no
 * functions per call: this runs once per exported event.
 */
import { csvCell } from "./csv.ts";

export type CellSink = (path: string, cell: string) => void;

let text = "";
let pos = 0;
let sink: CellSink = () => {};

/** Calls `emit(path, cell)` with each column's ready CSV cell: nested objects by dotted path, arrays as JSON. */
export function flattenJsonText(json: string, emit: CellSink): void {
  text = json;
  pos = 0;
  sink = emit;
  object("", true);
}

/** From an opening quote, the index after the closing one. */
function stringEnd(from: number): number {
  let j = from + 1;
  for (;;) {
    const c = text.charCodeAt(j);
    if (c === 0x22) return j + 1;
    j += c === 0x5c ? 2 : 1;
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

/** At `{`: emits the object's columns under `prefix`; the top-level object itself is no column. */
function object(prefix: string, top: boolean): void {
  pos++;
  if (text.charCodeAt(pos) === 0x7d) {
    pos++;
    if (!top) sink(prefix, "{}");
    return;
  }
  for (;;) {
    const keyEnd = stringEnd(pos);
    const key = stringValue(pos, keyEnd);
    pos = keyEnd + 1; // past the colon
    const path = prefix ? `${prefix}.${key}` : key;
    const c = text.charCodeAt(pos);
    if (c === 0x7b) object(path, false);
    else if (c === 0x5b) {
      const end = compositeEnd(pos);
      sink(path, csvCell(text.slice(pos, end)));
      pos = end;
    } else if (c === 0x22) {
      const end = stringEnd(pos);
      sink(path, csvCell(stringValue(pos, end)));
      pos = end;
    } else {
      let end = pos;
      for (let d = text.charCodeAt(end); d !== 0x2c && d !== 0x7d; d = text.charCodeAt(++end));
      const literal = text.slice(pos, end);
      // Numbers and true/false are written as they are; null is an empty cell.
      sink(path, literal === "null" ? "" : literal);
      pos = end;
    }
    if (text.charCodeAt(pos++) !== 0x2c) return; // a closing brace
  }
}
