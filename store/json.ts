import type { PreparedData } from "./prepared-data.ts";

/** JSON values as events carry them in `data` and as filters carry them in `values`. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** An event as the store keeps it: validated, time in ms, location NaN when absent. */
export interface StoredEvent {
  id: string;
  type: string;
  time: number;
  data: JsonObject;
  lat: number;
  lon: number;
  /** `data` as JSON text, when the caller has it already (validation makes it to check the size). */
  dataJson?: string;
  /** When it was first written (ms); set only when compaction rewrites an event. */
  ingested?: number;
  /** `data` as the wire decoder prepared it (JSON text and flattened values), at row `preparedRow`. */
  prepared?: PreparedData;
  preparedRow?: number;
}

/**
 * `canonicalJson` of the value whose JSON.stringify text is `raw`, remembered process-wide: the segment
 * encoder needs the canonical text of every object an event holds, and the same objects (a supply with
 * its name, value and unit) recur from batch to batch. The text is a pure function of `raw`, so a
 * remembered one is always right. Only short texts are kept (at most ~20 MB in all), and the memo is
 * bounded by forgetting everything at once.
 */
export function canonicalJsonOf(raw: string, value: JsonValue): string {
  if (raw.length > 256) return canonicalJson(value);
  let text = canonicalTexts.get(raw);
  if (text === undefined) {
    text = canonicalJson(value);
    if (canonicalTexts.size >= CANONICAL_MEMO_SIZE) canonicalTexts.clear();
    canonicalTexts.set(raw, text);
  }
  return text;
}
const canonicalTexts = new Map<string, string>();
const CANONICAL_MEMO_SIZE = 20_000;

/**
 * JSON text with object keys sorted at every level: JSON objects have no key order, so two objects are
 * the same value exactly when their canonical texts are equal.
 */
export function canonicalJson(value: JsonValue): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) {
    let out = "[";
    for (let i = 0; i < value.length; i++) out += (i > 0 ? "," : "") + canonicalJson(value[i] as JsonValue);
    return `${out}]`;
  }
  const keys = Object.keys(value);
  // Objects have a few keys, often in order already: sort only when they are not.
  for (let i = 1; i < keys.length; i++) {
    if (keys[i - 1]! > keys[i]!) {
      keys.sort();
      break;
    }
  }
  let out = "{";
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    out += `${i > 0 ? "," : ""}${JSON.stringify(key)}:${canonicalJson(value[key] as JsonValue)}`;
  }
  return `${out}}`;
}

/**
 * A number as JSON state carries it (query steps): JSON writes NaN and ±Infinity as null and -0 as 0, so
 * those travel as strings. (-0 is a location the API stores as sent, and protobuf writes it as -0; a
 * minimum may be -0 too: a step must keep it.)
 */
export type JsonNumber = number | string;

export function toJsonNumber(n: number): JsonNumber {
  if (Object.is(n, -0)) return "-0";
  return Number.isFinite(n) ? n : String(n);
}

export function fromJsonNumber(v: JsonNumber): number {
  return typeof v === "number" ? v : Number(v);
}
