/**
 * The events of `generateEvents` (bench-data.ts), yielded in chunks instead of one array, so that a
 * 10 M-event benchmark never holds every event in memory at once (as objects they take ~5 GB).
 *
 * It repeats generateEvents' loop step for step, because that function returns one array and other code
 * depends on it as it is; `assertSameAsGenerateEvents` checks at every run that the two still agree.
 */
import { type GeneratedEvent, generateEvents, NEED_NAMES, prng, SUPPLY_NAMES } from "./bench-data.ts";

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

export interface StreamOptions {
  seed?: number;
  start?: number;
  end?: number;
  /** Events per yielded chunk. */
  chunk?: number;
}

/** Exactly the events `generateEvents(count, options)` returns, `chunk` at a time, in order. */
export function* generateEventChunks(
  count: number,
  options: StreamOptions = {},
): Generator<GeneratedEvent[]> {
  const random = prng(options.seed ?? 42);
  const start = options.start ?? Date.UTC(2026, 0, 1);
  const end = options.end ?? Date.UTC(2026, 6, 1);
  const size = options.chunk ?? 100_000;
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  const step = (end - start) / count;
  let events: GeneratedEvent[] = [];
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
      events.push({ module: "sys-account", id, type, time, data, lat, lon });
    } else {
      const supplies = Array.from({ length: Math.floor(random() * 3) }, () => ({
        name: pick(SUPPLY_NAMES),
        value: 1 + Math.floor(random() * 10),
        unit: "hrs",
      }));
      const needs = Array.from({ length: Math.floor(random() * 3) }, () => pick(NEED_NAMES));
      const type = random() < 0.85 ? "enrolled" : "unenrolled";
      events.push({
        module: "mod-disco",
        id,
        type,
        time,
        data: { org, project, userId, supplies, needs },
        lat,
        lon,
      });
    }
    if (events.length === size) {
      yield events;
      events = [];
    }
  }
  if (events.length > 0) yield events;
}

/** Throws unless the chunks concatenate to generateEvents' array (checked on a few thousand events). */
export function assertSameAsGenerateEvents(count = 5_000, options: StreamOptions = {}): void {
  const whole = JSON.stringify(generateEvents(count, options));
  const chunked = JSON.stringify([...generateEventChunks(count, { ...options, chunk: 777 })].flat());
  if (whole !== chunked) {
    throw new Error(
      "bench-stream.ts no longer generates what bench-data.ts does: update generateEventChunks",
    );
  }
}
