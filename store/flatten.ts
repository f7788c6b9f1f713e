/**
 * How a field path reaches values in an event's `data`: a dotted path walks objects, and a path through
 * an array reaches every element (arrays nested in arrays are flattened). An object reached by a path is a
 * value too (so `supplies` EXISTS when it holds objects); an empty array reaches nothing.
 */
import type { JsonObject, JsonValue } from "./json.ts";

/** Calls `emit(path, value)` for every path of `data` and every non-array value that path reaches. */
export function flatten(data: JsonObject, emit: (path: string, value: JsonValue) => void): void {
  for (const key of Object.keys(data)) walk(data[key] as JsonValue, key, emit);
}

function walk(value: JsonValue, path: string, emit: (path: string, value: JsonValue) => void): void {
  if (Array.isArray(value)) {
    for (const element of value) walk(element, path, emit);
    return;
  }
  emit(path, value);
  if (value !== null && typeof value === "object") {
    for (const key of Object.keys(value)) walk(value[key] as JsonValue, `${path}.${key}`, emit);
  }
}

/** The values `path` reaches in `data`: the reference semantics the columnar scan must equal. */
export function reach(data: JsonObject, path: string): JsonValue[] {
  const out: JsonValue[] = [];
  const parts = path.split(".");
  const step = (value: JsonValue | undefined, i: number): void => {
    if (value === undefined) return;
    if (Array.isArray(value)) {
      for (const element of value) step(element, i);
      return;
    }
    if (i === parts.length) {
      out.push(value);
      return;
    }
    const key = parts[i] as string;
    // Own keys only: `constructor` or `__proto__` must not reach Object.prototype.
    if (value !== null && typeof value === "object" && Object.hasOwn(value, key)) step(value[key], i + 1);
  };
  step(data, 0);
  return out;
}
