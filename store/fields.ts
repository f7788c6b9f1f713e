/**
 * A field of a segment as a column of reached values, whether it is the event `type` or a data path, so
 * that filters, groups and aggregations read both the same way.
 */
import { canonicalJson, type JsonValue } from "./json.ts";
import type { Segment } from "./segment.ts";
import {
  type PathColumn,
  pathColumnBytes,
  TAG_FALSE,
  TAG_NULL,
  TAG_NUMBER,
  TAG_OBJECT,
  TAG_STRING,
  TAG_TRUE,
} from "./segment-format.ts";

export interface FieldColumn extends PathColumn {
  /** The text of a string or object value's code. */
  text(code: number): string;
  /** The code of a string or object JSON text in this column's dictionary, or -1. */
  codeOf(text: string): number;
}

const typeColumns = new WeakMap<Segment, FieldColumn>();

/**
 * Event types as a field column over `codes` (codes into the segment's types), one string per entry: of a
 * segment's rows, or of a rollup table's combinations. Kept by the caller with the segment, so counted.
 */
export function typeColumn(segment: Segment, codes: Uint32Array): FieldColumn {
  const n = codes.length;
  const types = segment.types;
  const column: FieldColumn = {
    offsets: Uint32Array.from({ length: n + 1 }, (_, i) => i),
    tags: new Uint8Array(n).fill(TAG_STRING),
    vals: Float64Array.from(codes),
    text: (code) => types[code]!,
    codeOf: (text) => types.indexOf(text),
  };
  segment.hold(pathColumnBytes(column));
  return column;
}

/** The values `field` reaches in `segment`, or undefined when no event of the segment reaches any. */
export function fieldColumn(segment: Segment, field: string): FieldColumn | undefined {
  if (field === "type") {
    let column = typeColumns.get(segment);
    if (!column) {
      column = typeColumn(segment, segment.typeCodes);
      typeColumns.set(segment, column);
    }
    return column;
  }
  const path = segment.path(field);
  if (!path) return undefined;
  const dict = segment.dict;
  return { ...path, text: (code) => dict.get(code), codeOf: (text) => dict.indexOf(text) };
}

/** A reached value as a group value: strings as they are, numbers in their shortest JavaScript form. */
export function groupText(column: FieldColumn, k: number): string {
  switch (column.tags[k]) {
    case TAG_NULL:
      return "null";
    case TAG_FALSE:
      return "false";
    case TAG_TRUE:
      return "true";
    case TAG_NUMBER:
      return String(column.vals[k]);
    default:
      return column.text(column.vals[k]!);
  }
}

/** A reached value as a key that is equal exactly when the JSON values are (for unique counts). */
export function valueKey(column: FieldColumn, k: number): string {
  const tag = column.tags[k]!;
  if (tag === TAG_NUMBER) return `n${column.vals[k]}`;
  if (tag === TAG_STRING || tag === TAG_OBJECT)
    return `${tag === TAG_STRING ? "s" : "o"}${column.text(column.vals[k]!)}`;
  return `t${tag}`;
}

/** The (tag, val) a JSON operand has in `column`, or undefined when the column cannot hold it. */
export function encodeOperand(column: FieldColumn, value: JsonValue): [number, number] | undefined {
  if (value === null) return [TAG_NULL, 0];
  if (value === true) return [TAG_TRUE, 0];
  if (value === false) return [TAG_FALSE, 0];
  if (typeof value === "number") return [TAG_NUMBER, value];
  if (typeof value === "string") {
    const code = column.codeOf(value);
    return code < 0 ? undefined : [TAG_STRING, code];
  }
  // Arrays are never reached (a path reaches their elements); objects compare by their JSON text.
  if (Array.isArray(value)) return undefined;
  const code = column.codeOf(canonicalJson(value));
  return code < 0 ? undefined : [TAG_OBJECT, code];
}
