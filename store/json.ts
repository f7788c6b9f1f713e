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
