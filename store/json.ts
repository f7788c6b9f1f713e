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
}

/**
 * JSON text with object keys sorted at every level: JSON objects have no key order, so two objects are
 * the same value exactly when their canonical texts are equal.
 */
export function canonicalJson(value: JsonValue): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const keys = Object.keys(value).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k] as JsonValue)}`).join(",")}}`;
}
