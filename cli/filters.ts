/** `--filter`, `--near` and `--box` values as proto3 JSON (the grammar is in QUERY_HELP). */
import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import { UsageError } from "./errors.ts";

export const NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

/** A filter operand: JSON literals and numbers as such, a double-quoted JSON string as text, else text. */
function operand(text: string): JsonValue {
  if (text === "true") return true;
  if (text === "false") return false;
  if (text === "null") return null;
  if (NUMBER.test(text)) return Number(text);
  if (text.length >= 2 && text.startsWith('"') && text.endsWith('"')) {
    try {
      return JSON.parse(text) as string;
    } catch {
      // Not valid JSON after all: the text as typed.
    }
  }
  return text;
}

/** Several operands: a JSON array as such, else split on `|`. */
function operands(text: string, asText: boolean): JsonValue[] {
  if (text.startsWith("[")) {
    try {
      const parsed = JSON.parse(text) as JsonValue;
      if (Array.isArray(parsed)) return parsed;
    } catch {
      // Text that happens to start with "[".
    }
  }
  return text.split("|").map((part) => (asText ? part : operand(part)));
}

const OPS: Record<string, string> = {
  "=": "OPERATOR_EQ",
  "!=": "OPERATOR_NEQ",
  ">": "OPERATOR_GT",
  ">=": "OPERATOR_GTE",
  "<": "OPERATOR_LT",
  "<=": "OPERATOR_LTE",
  "~": "OPERATOR_CONTAINS",
};

/** One `--filter` expression as a proto3 JSON Filter (grammar in QUERY_HELP). */
export function parseFilter(text: string): JsonObject {
  if (!/[=<>~]/.test(text)) {
    if (text.length > 1 && text.startsWith("!")) return { field: text.slice(1), op: "OPERATOR_NOT_EXISTS" };
    if (text.length > 1 && text.endsWith("?")) return { field: text.slice(0, -1), op: "OPERATOR_EXISTS" };
  }
  const match = /^(.+?)(!=|>=|<=|=|>|<|~)(.*)$/s.exec(text);
  if (!match) {
    throw new UsageError(
      `--filter ${JSON.stringify(text)}: expected field=value, field!=value, field>n, field~text, field? or !field`,
    );
  }
  const [, field, op, value] = match as unknown as [string, string, string, string];
  if (op === "=" || op === "!=") return { field, op: OPS[op]!, values: operands(value, false) };
  if (op === "~") return { field, op: OPS[op]!, values: operands(value, true) };
  return { field, op: OPS[op]!, values: [operand(value)] };
}

function numbers(text: string, flag: string, count: number, what: string): number[] {
  const parts = text.split(",").map((p) => p.trim());
  if (parts.length !== count || parts.some((p) => !NUMBER.test(p.replace(/^\+/, "")))) {
    throw new UsageError(`${flag} ${JSON.stringify(text)}: expected ${what}`);
  }
  return parts.map(Number);
}

/** `--near lat,lon,radius` (radius in m, or km with the suffix) as a proto3 JSON GeoFilter. */
export function parseNear(text: string): JsonObject {
  const match = /^(.*),\s*(\d+(?:\.\d+)?)\s*(m|km)?$/i.exec(text.trim());
  const what = "lat,lon,radius such as -33.87,151.21,50km";
  if (!match) throw new UsageError(`--near ${JSON.stringify(text)}: expected ${what}`);
  const [lat, lon] = numbers(match[1]!, "--near", 2, what) as [number, number];
  const radiusMeters = Number(match[2]) * (match[3]?.toLowerCase() === "km" ? 1000 : 1);
  return { circle: { center: { lat, lon }, radiusMeters } };
}

/** `--box south,west,north,east` as a proto3 JSON GeoFilter. */
export function parseBox(text: string): JsonObject {
  const [south, west, north, east] = numbers(text, "--box", 4, "south,west,north,east") as number[];
  return { box: { south: south!, west: west!, north: north!, east: east! } };
}
