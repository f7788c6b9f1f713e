/**
 * Seeded, realistic telemetry for benchmarks and demos: sys-account membership and role events and
 * mod-disco enrolments with supplies and needs, 60% located around a few dozen cities.
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { EventSchema } from "../proto/gen/telemetry/v1/telemetry_pb.ts";
import type { StoredEvent } from "../store/json.ts";

/** mulberry32: small, fast, and the same sequence on every machine. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const SUPPLY_NAMES = Array.from({ length: 30 }, (_, i) =>
  i < 6 ? ["Childcare", "Transport", "Tutoring", "Cooking", "Legal Help", "Gardening"][i]! : `Supply ${i}`,
);
export const NEED_NAMES = Array.from({ length: 30 }, (_, i) =>
  i < 6 ? ["Legal Help", "Food", "Housing", "Childcare", "Language", "Medical"][i]! : `Need ${i}`,
);
const ROLES = ["GUEST", "USER", "ADMIN", "SUPERADMIN"];
const CITIES: [number, number][] = [
  [52.52, 13.405],
  [48.8566, 2.3522],
  [51.5074, -0.1278],
  [40.7128, -74.006],
  [-33.8688, 151.2093],
  [35.6762, 139.6503],
  [-23.5505, -46.6333],
  [19.4326, -99.1332],
  [28.6139, 77.209],
  [-1.2921, 36.8219],
  [55.7558, 37.6173],
  [41.9028, 12.4964],
  [59.3293, 18.0686],
  [47.3769, 8.5417],
  [-34.6037, -58.3816],
];

export interface GeneratedEvent extends StoredEvent {
  module: "sys-account" | "mod-disco";
}

/** `count` events spread over [start, end), sorted by time, for 20 orgs and 200 projects. */
export interface GenerateOptions {
  seed?: number;
  start?: number;
  end?: number;
}

/** `count` events spread over [start, end), sorted by time, for 20 orgs and 200 projects, one at a time. */
export function* eachEvent(count: number, options: GenerateOptions = {}): Generator<GeneratedEvent> {
  const random = prng(options.seed ?? 42);
  const start = options.start ?? Date.UTC(2026, 0, 1);
  const end = options.end ?? Date.UTC(2026, 6, 1);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  const step = (end - start) / count;
  for (let i = 0; i < count; i++) {
    const time = Math.floor(start + i * step + random() * step);
    const orgN = Math.floor(random() ** 2 * 20);
    const org = `org-${orgN}`;
    const project = `project-${orgN * 10 + Math.floor(random() * 10)}`;
    const userId = `user-${Math.floor(random() * 50_000)}`;
    let lat = Number.NaN;
    let lon = Number.NaN;
    if (random() < 0.6) {
      const [cLat, cLon] = pick(CITIES);
      lat = Math.round((cLat + (random() - 0.5) * 2) * 1e5) / 1e5;
      lon = Math.round((cLon + (random() - 0.5) * 2) * 1e5) / 1e5;
    }
    const id = `ev-${i.toString(36)}`;
    if (random() < 0.4) {
      const r = random();
      const type = r < 0.5 ? "user.joined" : r < 0.8 ? "role.changed" : "user.left";
      const data: GeneratedEvent["data"] =
        type === "role.changed"
          ? { org, project, userId, role: pick(ROLES), previousRole: pick(ROLES) }
          : { org, project, userId, role: pick(ROLES) };
      yield { module: "sys-account", id, type, time, data, lat, lon };
    } else {
      const supplies = Array.from({ length: Math.floor(random() * 3) }, () => ({
        name: pick(SUPPLY_NAMES),
        value: 1 + Math.floor(random() * 10),
        unit: "hrs",
      }));
      const needs = Array.from({ length: Math.floor(random() * 3) }, () => pick(NEED_NAMES));
      const type = random() < 0.85 ? "enrolled" : "unenrolled";
      yield {
        module: "mod-disco",
        id,
        type,
        time,
        data: { org, project, userId, supplies, needs },
        lat,
        lon,
      };
    }
  }
}

/** The same events as one array. */
export function generateEvents(count: number, options: GenerateOptions = {}): GeneratedEvent[] {
  return [...eachEvent(count, options)];
}

/** The same events, `chunk` at a time, so that 10 M never sit in memory as objects at once. */
export function* generateEventChunks(
  count: number,
  options: GenerateOptions & { chunk?: number } = {},
): Generator<GeneratedEvent[]> {
  const size = options.chunk ?? 100_000;
  let chunk: GeneratedEvent[] = [];
  for (const event of eachEvent(count, options)) {
    chunk.push(event);
    if (chunk.length === size) {
      yield chunk;
      chunk = [];
    }
  }
  if (chunk.length > 0) yield chunk;
}

/** A generated event as the API's Event (what a client sends). */
export function toEventInit(e: StoredEvent): MessageInitShape<typeof EventSchema> {
  return {
    id: e.id,
    type: e.type,
    time: timestampFromMs(e.time),
    data: e.data,
    ...(Number.isNaN(e.lat) ? {} : { location: { lat: e.lat, lon: e.lon } }),
  };
}
