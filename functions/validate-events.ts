/**
 * RecordEvents validation. A batch is checked whole before anything is written; the first problem found
 * fails the call with `invalid_argument` naming the event and field (`events[3].location.lat`).
 */
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import type { Event, RecordEventsRequest } from "../proto/gen/telemetry/v1/telemetry_pb.ts";
import { invalidArgument } from "../store/errors.ts";
import type { JsonObject, JsonValue, StoredEvent } from "../store/json.ts";
import { isValidModule } from "../store/keys.ts";
import type { PreparedData } from "../store/prepared-data.ts";
import type { Limits } from "./limits.ts";
import { preparedOf } from "./record-decoder.ts";

const CONTROL = /[\u0000-\u001f\u007f]/;
/** 9999-12-31T23:59:59.999Z, the last instant a Timestamp's JSON form can carry. */
export const MAX_TIME_MS = 253_402_300_799_999;

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
  const prepared = preparedOf(event);
  let data: JsonObject | undefined;
  let dataJson: string | undefined;
  if (prepared) {
    // The decoder measured the data: only data over a limit is made into objects, to name the problem.
    const { prepared: p, row } = prepared;
    const bytes = p.jsonEnd[row]! - (row > 0 ? p.jsonEnd[row - 1]! : 0);
    if (p.depth[row]! > limits.maxDepth || p.keys[row]! > limits.maxKeys || bytes > limits.maxEventBytes)
      checkData(event.data ?? {}, `${at}.data`, limits);
  } else {
    data = event.data ?? {};
    dataJson = checkData(data, `${at}.data`, limits);
  }
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
  if (prepared)
    return new PreparedEvent(event, id, event.type, time, lat, lon, prepared.prepared, prepared.row);
  return { id, type: event.type, time, data: data!, dataJson, lat, lon };
}

/** A validated event whose data the decoder prepared (record-decoder.ts): `data` is made only if asked for. */
class PreparedEvent implements StoredEvent {
  constructor(
    private readonly source: Event,
    readonly id: string,
    readonly type: string,
    readonly time: number,
    public lat: number,
    public lon: number,
    public prepared: PreparedData | undefined,
    readonly preparedRow: number,
  ) {}

  private own: JsonObject | undefined;

  get data(): JsonObject {
    this.own ??= this.source.data ?? {};
    return this.own;
  }

  /** Data set anew is stored as it is now, not as it was prepared. */
  set data(value: JsonObject) {
    this.own = value;
    this.prepared = undefined;
  }
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

/** Checks `data` against the limits and returns its JSON text (which the store keeps, so it is made once). */
function checkData(data: JsonObject, field: string, limits: Limits): string {
  const state = { keys: 0 };
  const problem = dataProblem(data, 1, limits, state);
  if (problem) {
    // The common case carries no path strings; only a failure walks again to name the place.
    const [path, message] = locate(data, field, 1, limits, { keys: 0 }) ?? [field, problem];
    throw invalidArgument(path, message);
  }
  const json = JSON.stringify(data);
  // A UTF-16 unit is at most 3 bytes of UTF-8 (a pair, 4): text that short is within the limit uncounted.
  if (json.length * 3 <= limits.maxEventBytes) return json;
  const bytes = utf8Length(json);
  if (bytes > limits.maxEventBytes) {
    throw invalidArgument(field, `${bytes} bytes as JSON; at most ${limits.maxEventBytes}`);
  }
  return json;
}

/** The first problem in `value`, or undefined. Counts keys and array elements in `state`. */
function dataProblem(
  value: JsonValue,
  depth: number,
  limits: Limits,
  state: { keys: number },
): string | undefined {
  if (typeof value === "number")
    return Number.isFinite(value) ? undefined : `${value} is not a finite number`;
  if (value === null || typeof value !== "object") return undefined;
  if (depth > limits.maxDepth) return `nested deeper than ${limits.maxDepth} levels`;
  if (Array.isArray(value)) {
    state.keys += value.length;
    if (state.keys > limits.maxKeys) return `more than ${limits.maxKeys} keys and array elements`;
    for (const child of value) {
      const problem = dataProblem(child, depth + 1, limits, state);
      if (problem) return problem;
    }
    return undefined;
  }
  for (const key in value) {
    if (++state.keys > limits.maxKeys) return `more than ${limits.maxKeys} keys and array elements`;
    const problem = dataProblem(value[key] as JsonValue, depth + 1, limits, state);
    if (problem) return problem;
  }
  return undefined;
}

/** Where the first problem is, as [path, message]; the key limit names the whole `data`. */
function locate(
  value: JsonValue,
  path: string,
  depth: number,
  limits: Limits,
  state: { keys: number },
  root = path,
): [string, string] | undefined {
  if (value === null || typeof value !== "object") {
    const problem = dataProblem(value, depth, limits, state);
    return problem ? [path, problem] : undefined;
  }
  if (depth > limits.maxDepth) return [path, `nested deeper than ${limits.maxDepth} levels`];
  const entries: [string, JsonValue][] = Array.isArray(value)
    ? value.map((v, i) => [`${path}[${i}]`, v])
    : Object.entries(value).map(([k, v]) => [`${path}.${k}`, v]);
  state.keys += entries.length;
  if (state.keys > limits.maxKeys) return [root, `more than ${limits.maxKeys} keys and array elements`];
  for (const [childPath, child] of entries) {
    const found = locate(child, childPath, depth + 1, limits, state, root);
    if (found) return found;
  }
  return undefined;
}

/** UTF-8 length of a string, without encoding it. */
function utf8Length(text: string): number {
  let n = text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 2; // 4 bytes for two UTF-16 units
        i++;
      } else n += 2;
    } else n += 2;
  }
  return n;
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
