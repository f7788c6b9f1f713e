/**
 * RecordEvents validation. A batch is checked whole before anything is written; the first problem found
 * fails the call with `invalid_argument` naming the event and field (`events[3].location.lat`).
 */
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import type { Event, RecordEventsRequest } from "../proto/gen/telemetry/v1/telemetry_pb.ts";
import { invalidArgument } from "../store/errors.ts";
import type { JsonObject, JsonValue, StoredEvent } from "../store/json.ts";
import { isValidModule } from "../store/keys.ts";
import type { Limits } from "./limits.ts";

const CONTROL = /[\u0000-\u001f\u007f]/;
/** 9999-12-31T23:59:59.999Z, the last instant a Timestamp's JSON form can carry. */
export const MAX_TIME_MS = 253_402_300_799_999;
const encoder = new TextEncoder();

export function validateModule(module: string, field = "module"): string {
  if (!module) throw invalidArgument(field, 'required (e.g. "mod-disco")');
  if (!isValidModule(module)) {
    throw invalidArgument(field, `${JSON.stringify(module.slice(0, 80))} must match ^[a-z][a-z0-9-]{0,62}$`);
  }
  return module;
}

export function validateRecord(req: RecordEventsRequest, limits: Limits, now: number): StoredEvent[] {
  validateModule(req.module);
  if (req.events.length === 0) throw invalidArgument("events", "at least one event is required");
  if (req.events.length > limits.maxEventsPerBatch) {
    throw invalidArgument(
      "events",
      `${req.events.length} events; at most ${limits.maxEventsPerBatch} per call`,
    );
  }
  return req.events.map((event, i) => validateEvent(event, `events[${i}]`, limits, now));
}

function validateEvent(event: Event, at: string, limits: Limits, now: number): StoredEvent {
  if (!event.type) throw invalidArgument(`${at}.type`, "required");
  checkName(event.type, `${at}.type`, limits);
  const id = event.id ? checkName(event.id, `${at}.id`, limits) : newEventId();
  const time = event.time ? timestampMs(event.time, `${at}.time`) : now;
  const data = event.data ?? {};
  checkData(data, `${at}.data`, limits);
  let lat = Number.NaN;
  let lon = Number.NaN;
  if (event.location) {
    lat = event.location.lat;
    lon = event.location.lon;
    if (!Number.isFinite(lat) || lat < -90 || lat > 90) {
      throw invalidArgument(`${at}.location.lat`, `${lat} is outside -90..90`);
    }
    if (!Number.isFinite(lon) || lon < -180 || lon > 180) {
      throw invalidArgument(`${at}.location.lon`, `${lon} is outside -180..180`);
    }
  }
  return { id, type: event.type, time, data, lat, lon };
}

function checkName(value: string, field: string, limits: Limits): string {
  if (value.length > limits.maxNameLength) {
    throw invalidArgument(field, `${value.length} characters; at most ${limits.maxNameLength}`);
  }
  if (CONTROL.test(value)) throw invalidArgument(field, "must not contain control characters");
  return value;
}

/** A Timestamp as ms since the epoch, refusing what the API does not store. */
export function timestampMs(ts: Timestamp, field: string): number {
  if (ts.nanos < 0 || ts.nanos > 999_999_999)
    throw invalidArgument(field, `nanos ${ts.nanos} is outside 0..999999999`);
  const ms = Number(ts.seconds) * 1000 + Math.floor(ts.nanos / 1_000_000);
  if (!Number.isFinite(ms) || ms < 0 || ms > MAX_TIME_MS) {
    throw invalidArgument(field, "must lie between 1970-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z");
  }
  return ms;
}

function checkData(data: JsonObject, field: string, limits: Limits): void {
  let keys = 0;
  const walk = (value: JsonValue, depth: number, path: string): void => {
    if (typeof value === "number" && !Number.isFinite(value)) {
      throw invalidArgument(path, `${value} is not a finite number`);
    }
    if (value === null || typeof value !== "object") return;
    if (depth > limits.maxDepth) throw invalidArgument(path, `nested deeper than ${limits.maxDepth} levels`);
    const entries = Array.isArray(value)
      ? value.map((v, i) => [`[${i}]`, v] as const)
      : Object.entries(value);
    keys += entries.length;
    if (keys > limits.maxKeys)
      throw invalidArgument(field, `more than ${limits.maxKeys} keys and array elements`);
    for (const [key, child] of entries) {
      walk(child, depth + 1, Array.isArray(value) ? `${path}${key}` : `${path}.${key}`);
    }
  };
  walk(data, 1, field);
  const bytes = encoder.encode(JSON.stringify(data)).byteLength;
  if (bytes > limits.maxEventBytes) {
    throw invalidArgument(field, `${bytes} bytes as JSON; at most ${limits.maxEventBytes}`);
  }
}

/** A server-assigned event id: 20 characters of base 32 from 100 random bits. */
export function newEventId(): string {
  const bytes = new Uint8Array(13);
  crypto.getRandomValues(bytes);
  const alphabet = "0123456789abcdefghjkmnpqrstvwxyz";
  let out = "";
  let acc = 0;
  let bits = 0;
  for (const byte of bytes) {
    acc = (acc << 8) | byte;
    bits += 8;
    while (bits >= 5 && out.length < 20) {
      out += alphabet[(acc >>> (bits - 5)) & 31];
      bits -= 5;
    }
    acc &= 0xff;
  }
  return out;
}
