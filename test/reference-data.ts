/**
 * Seeded, realistic telemetry for the reference tests: account events (sys-account) and enrolments
 * (mod-disco) from 2026-02-15 to 2026-11-15, across the 2026 DST changes of Europe/Berlin (Mar 29,
 * Oct 25) and Australia/Sydney (Apr 5, Oct 4).
 *
 * Besides the random bulk, the data deliberately holds the cases that break implementations: events exactly
 * on bucket edges (local midnights, month starts, DST instants) and 1 ms before them, sub-millisecond
 * timestamps, unicode and CSV-hostile strings, numbers sent as strings, repeated names in one array,
 * empty and missing arrays, points exactly on box corners and on both sides of the antimeridian, events
 * without an id, and client retries (inside a batch, in later batches, a whole batch re-sent, a retry
 * with a changed payload) whose duplicates are counted exactly.
 */
import type { JsonObject, JsonValue, MessageInitShape } from "@bufbuild/protobuf";
import type { EventSchema } from "../proto/gen/telemetry/v1/telemetry_pb.ts";
import type { ModelEvent } from "./reference-model.ts";

export const ACCOUNT = "sys-account";
export const DISCO = "mod-disco";

export const DATA_START = Date.UTC(2026, 1, 15);
export const DATA_END = Date.UTC(2026, 10, 15);

/** The 2026 DST transition instants (UTC). */
export const DST = {
  /** 02:00 CET -> 03:00 CEST: Berlin's 23-hour day. */
  berlinSpring: Date.UTC(2026, 2, 29, 1),
  /** 03:00 CEST -> 02:00 CET: Berlin's 25-hour day. */
  berlinFall: Date.UTC(2026, 9, 25, 1),
  /** 03:00 AEDT -> 02:00 AEST on Apr 5: Sydney's 25-hour day. */
  sydneyAutumn: Date.UTC(2026, 3, 4, 16),
  /** 02:00 AEST -> 03:00 AEDT on Oct 4: Sydney's 23-hour day. */
  sydneySpring: Date.UTC(2026, 9, 3, 16),
  /** 02:00 +11 -> 01:30 +10:30 on Apr 5: Lord Howe's half-hour fall-back (a 24.5-hour day). */
  lordHoweAutumn: Date.UTC(2026, 3, 4, 15),
  /** 02:00 +10:30 -> 02:30 +11 on Oct 4: Lord Howe's half-hour spring-forward. */
  lordHoweSpring: Date.UTC(2026, 9, 3, 15, 30),
  /** 00:00 -03 -> 23:00 -04 on Apr 5: Santiago repeats the last hour of Apr 4. */
  santiagoAutumn: Date.UTC(2026, 3, 5, 3),
  /** 00:00 -04 -> 01:00 -03 on Sep 6: Santiago skips midnight, so Sep 6 starts at 01:00 local. */
  santiagoSpring: Date.UTC(2026, 8, 6, 4),
} as const;

export const BERLIN = "Europe/Berlin";
export const SYDNEY = "Australia/Sydney";
export const LORD_HOWE = "Australia/Lord_Howe";
export const SANTIAGO = "America/Santiago";
/** Nuuk (-02/-01) changes at Berlin's instants, i.e. at local midnight: Sat Oct 24 has 25 hours. */
export const NUUK = "America/Nuuk";

export const ROLES = ["GUEST", "USER", "ADMIN", "SUPERADMIN"] as const;
export const SUPPLY_NAMES = [
  "Childcare",
  "Legal Help",
  "Transport",
  "Food",
  "Housing",
  "Language Course",
  "Zahnärztliche Hilfe",
] as const;
export const NEEDS = [
  "Food",
  "Shelter",
  "Clothing",
  "Medical",
  "Internet",
  "Translation",
  "Childcare",
] as const;
/** Org names include unicode, emoji, commas, quotes and a newline: they must survive every layer. */
export const ORGS = [
  "org-1",
  "org-2",
  "Zürich Hilfswerk",
  "東京支部",
  "Acme, Inc.",
  'The "Quoted" Org',
  "Line one\nLine two",
  "🌍 Global Aid 🚀",
] as const;
export const PROJECTS = ["p-1", "p-2", "p-3", "p-4", "Café ☕", 'Projekt "Ü"', "x, y; z", "東京-2"] as const;

/** Cluster centres (lat, lon) and their spread in degrees. Fiji straddles the antimeridian. */
export const CITIES = {
  berlin: { lat: 52.52, lon: 13.405, spread: 0.1 },
  zurich: { lat: 47.3769, lon: 8.5417, spread: 0.05 },
  sydney: { lat: -33.8688, lon: 151.2093, spread: 0.15 },
  tokyo: { lat: 35.6762, lon: 139.6503, spread: 0.15 },
  fiji: { lat: -16.8, lon: 179.6, spread: 1.2 },
  apia: { lat: -13.8333, lon: -171.7667, spread: 0.1 },
} as const;

/** A box in Berlin whose corners and edges hold exact points (see EXACT_POINTS). */
export const BERLIN_EDGE_BOX = { south: 52.5, west: 13.25, north: 52.55, east: 13.45 } as const;

/** Points placed exactly on box edges, cell edges and the antimeridian (and just outside edges). */
export const EXACT_POINTS: readonly { lat: number; lon: number }[] = [
  { lat: 52.5, lon: 13.25 },
  { lat: 52.55, lon: 13.45 },
  { lat: 52.5, lon: 13.45 },
  { lat: 52.55, lon: 13.25 },
  { lat: 52.52, lon: 13.25 },
  { lat: 52.4999, lon: 13.3 },
  { lat: 52.52, lon: 13.4501 },
  { lat: -16, lon: 180 },
  { lat: -16, lon: -180 },
  { lat: -17, lon: 179.5 },
  { lat: -33.5, lon: 151 },
  { lat: -34, lon: 151.5 },
];

export interface ReferenceEvent extends ModelEvent {
  /** Extra nanoseconds below the millisecond, sent in the Timestamp and dropped by the server. */
  subMsNanos: number;
}

export interface ReferenceBatch {
  module: string;
  events: ReferenceEvent[];
}

export interface ReferenceData {
  /** RecordEvents calls, in the order to send them (retries included). */
  batches: ReferenceBatch[];
  /** Every distinct event (what must end up stored), in no particular order. */
  events: ReferenceEvent[];
  expectedAccepted: number;
  expectedDuplicates: number;
  /** The bucket-edge instants events were placed on. */
  edges: readonly Edge[];
}

export interface Edge {
  label: string;
  ms: number;
}

// ---------------------------------------------------------------------------------------------------------
// Time-zone helpers, independent of the model's (they read the offset, not the wall-clock fields).

/** The UTC offset of `timeZone` at `ms`, in ms, from Intl's "GMT+02:00" style name. */
export function utcOffsetMs(ms: number, timeZone: string): number {
  const name = new Intl.DateTimeFormat("en-US", { timeZone, timeZoneName: "longOffset" })
    .formatToParts(ms)
    .find((p) => p.type === "timeZoneName")?.value;
  const match = /^GMT(?:([+-])(\d{2}):(\d{2}))?$/.exec(name ?? "");
  if (!match) throw new Error(`unexpected offset name ${name}`);
  if (!match[1]) return 0;
  const sign = match[1] === "-" ? -1 : 1;
  return sign * (Number(match[2]) * 3_600_000 + Number(match[3]) * 60_000);
}

/** The instant of 00:00 local on a calendar date (midnight exists in every zone used here). */
export function zonedMidnight(timeZone: string, year: number, month: number, day: number): number {
  const wall = Date.UTC(year, month - 1, day);
  // Two rounds of "wall minus offset" settle on the offset in force at local midnight.
  const guess = wall - utcOffsetMs(wall, timeZone);
  return wall - utcOffsetMs(guess, timeZone);
}

function dayRange(year: number, month: number, fromDay: number, toDay: number): [number, number, number][] {
  const days: [number, number, number][] = [];
  for (let d = fromDay; d <= toDay; d++) {
    const date = new Date(Date.UTC(year, month - 1, d));
    days.push([date.getUTCFullYear(), date.getUTCMonth() + 1, date.getUTCDate()]);
  }
  return days;
}

/** Local midnights around the DST changes, month starts in three zones, and the DST instants. */
export function bucketEdges(): Edge[] {
  const edges: Edge[] = [];
  const midnight = (tz: string, [y, m, d]: [number, number, number]) =>
    edges.push({ label: `${tz} ${y}-${m}-${d} 00:00`, ms: zonedMidnight(tz, y, m, d) });
  for (const day of [...dayRange(2026, 3, 25, 34), ...dayRange(2026, 10, 21, 30)]) midnight(BERLIN, day);
  for (const day of [...dayRange(2026, 4, 1, 9), ...dayRange(2026, 9, 30, 38)]) midnight(SYDNEY, day);
  for (const day of [...dayRange(2026, 4, 3, 7), ...dayRange(2026, 9, 4, 8)]) {
    // Sep 6 has no 00:00 in Santiago: its first instant is the DST instant, listed below.
    if (day[1] !== 9 || day[2] !== 6) midnight(SANTIAGO, day);
  }
  for (const day of dayRange(2026, 10, 23, 26)) midnight(NUUK, day);
  for (let m = 3; m <= 11; m++) {
    midnight(BERLIN, [2026, m, 1]);
    midnight(SYDNEY, [2026, m, 1]);
    midnight("UTC", [2026, m, 1]);
  }
  for (const [label, ms] of Object.entries(DST)) edges.push({ label: `DST ${label}`, ms });
  // A month-start midnight can coincide with a listed day: keep each instant once.
  return [...new Map(edges.map((e) => [e.ms, e])).values()].sort((a, b) => a.ms - b.ms);
}

// ---------------------------------------------------------------------------------------------------------
// Randomness

/** mulberry32: a tiny, well-known seeded PRNG, so the data is the same on every run. */
function mulberry32(seed: number): () => number {
  let state = seed | 0;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

class Rng {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = mulberry32(seed);
  }
  float(): number {
    return this.next();
  }
  /** An integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }
  /** n distinct items, in random order. */
  sample<T>(items: readonly T[], n: number): T[] {
    return this.shuffle([...items]).slice(0, n);
  }
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [items[i], items[j]] = [items[j]!, items[i]!];
    }
    return items;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Events

class EventFactory {
  private serial = 0;
  constructor(private readonly rng: Rng) {}

  /** A client id: mostly lowercase hex, sometimes an upper-case prefix (ids sort by JS string order). */
  id(): string {
    const hex = Array.from({ length: 16 }, () => this.rng.int(0, 15).toString(16)).join("");
    this.serial++;
    return this.rng.chance(0.1) ? `EVT-${this.serial}-${hex.slice(0, 6)}` : hex;
  }

  location(): { lat: number; lon: number } | undefined {
    const { rng } = this;
    if (!rng.chance(0.7)) return undefined;
    if (rng.chance(0.03)) return { ...rng.pick(EXACT_POINTS) };
    const city = rng.pick(Object.values(CITIES));
    const round = (x: number) => Math.round(x * 1e6) / 1e6;
    const lat = round(city.lat + (rng.float() * 2 - 1) * city.spread);
    let lon = round(city.lon + (rng.float() * 2 - 1) * city.spread);
    // Fiji's cluster spills over the antimeridian: wrap into -180..180 like a GPS would report it.
    if (lon > 180) lon = round(lon - 360);
    return { lat, lon };
  }

  accountEvent(timeMs: number): ReferenceEvent {
    const { rng } = this;
    const type = rng.pick(["user.joined", "user.joined", "user.left", "role.changed", "role.changed"]);
    const role = rng.pick(ROLES);
    const data: JsonObject = {
      org: rng.pick(ORGS),
      project: rng.pick(PROJECTS),
      userId: `u-${rng.int(1, 250)}`,
      role,
    };
    if (type === "role.changed") data.previousRole = rng.pick(ROLES.filter((r) => r !== role));
    return this.finish(ACCOUNT, type, timeMs, data);
  }

  discoEvent(timeMs: number): ReferenceEvent {
    const { rng } = this;
    const type = rng.chance(0.7) ? "enrolled" : "unenrolled";
    const data: JsonObject = {
      org: rng.pick(ORGS),
      project: rng.pick(PROJECTS),
      userId: `u-${rng.int(1, 250)}`,
    };
    // Enrolments always list supplies (maybe none); unenrolments often leave the field out.
    if (type === "enrolled" || rng.chance(0.5)) data.supplies = this.supplies();
    if (!rng.chance(0.15)) data.needs = rng.sample(NEEDS, rng.int(0, 3));
    return this.finish(DISCO, type, timeMs, data);
  }

  private supplies(): JsonValue[] {
    const { rng } = this;
    const names: string[] = rng.sample(SUPPLY_NAMES, rng.int(0, 3));
    // Now and then a client lists the same supply twice: the event still joins that group once.
    if (names.length > 0 && rng.chance(0.05)) names.push(names[0]!);
    return names.map((name) => ({ name, value: this.supplyValue(), unit: "hrs" }));
  }

  /** Mostly whole hours, some half hours, and a few sent as strings by a sloppy client. */
  private supplyValue(): JsonValue {
    const { rng } = this;
    const r = rng.float();
    if (r < 0.8) return rng.int(1, 10);
    if (r < 0.95) return rng.int(1, 9) + 0.5;
    return String(rng.int(1, 10));
  }

  private finish(module: string, type: string, timeMs: number, data: JsonObject): ReferenceEvent {
    const location = this.location();
    return {
      module,
      id: this.id(),
      type,
      timeMs,
      subMsNanos: this.rng.chance(0.2) ? this.rng.int(1, 999_999) : 0,
      data,
      ...(location ? { location } : {}),
    };
  }

  event(module: string, timeMs: number): ReferenceEvent {
    return module === ACCOUNT ? this.accountEvent(timeMs) : this.discoEvent(timeMs);
  }
}

const MODULES = [ACCOUNT, DISCO] as const;

/** The distinct events: random bulk, two dense bursts at Berlin's DST nights, and events on every edge. */
function distinctEvents(rng: Rng, factory: EventFactory, edges: readonly Edge[]): ReferenceEvent[] {
  const events: ReferenceEvent[] = [];
  for (const module of MODULES) {
    for (let i = 0; i < 1900; i++) events.push(factory.event(module, rng.int(DATA_START, DATA_END - 1)));
  }
  // Bursts give MINUTE and HOUR buckets something to count around the DST instants.
  for (let i = 0; i < 180; i++)
    events.push(factory.discoEvent(rng.int(DST.berlinSpring - 1_800_000, DST.berlinSpring + 5_400_000)));
  for (let i = 0; i < 200; i++) {
    events.push(
      factory.accountEvent(rng.int(DST.berlinFall - 3 * 3_600_000, DST.berlinFall + 3 * 3_600_000)),
    );
  }
  // Several events exactly on each edge (ties ordered by id) and one just before it.
  for (const edge of edges) {
    for (const module of MODULES) {
      const n = rng.int(1, 3);
      for (let i = 0; i < n; i++) events.push({ ...factory.event(module, edge.ms), subMsNanos: 0 });
      if (rng.chance(0.6)) events.push(factory.event(module, edge.ms - 1));
    }
  }
  return events;
}

/**
 * A few events lose their id (the server assigns one). Only events whose millisecond is not shared with
 * another event of their module qualify: ListEvents breaks time ties by id, and the model cannot know the
 * server's ids, so an id-less event must never be in a tie.
 */
function dropSomeIds(rng: Rng, events: ReferenceEvent[]): void {
  const perInstant = new Map<string, number>();
  const key = (e: ReferenceEvent) => `${e.module}\n${e.timeMs}`;
  for (const e of events) perInstant.set(key(e), (perInstant.get(key(e)) ?? 0) + 1);
  for (const e of events) if (perInstant.get(key(e)) === 1 && rng.chance(0.03)) e.id = "";
}

/** Ids shared across modules (not duplicates: idempotency is per module) and re-used at another time. */
function sharedIds(rng: Rng, factory: EventFactory, events: ReferenceEvent[]): ReferenceEvent[] {
  const extra: ReferenceEvent[] = [];
  for (let i = 0; i < 6; i++) {
    const original = rng.pick(events.filter((e) => e.module === ACCOUNT));
    extra.push({ ...factory.event(DISCO, original.timeMs), id: original.id });
  }
  for (let i = 0; i < 6; i++) {
    // The same id with a corrected clock: a different time makes it a different event.
    const original = rng.pick(events);
    const shift = rng.pick([1, 1000, 3_600_000]);
    extra.push({ ...original, data: { ...original.data }, timeMs: original.timeMs + shift });
  }
  return extra;
}

function batchesOf(rng: Rng, events: ReferenceEvent[]): ReferenceBatch[] {
  const perModule = MODULES.map((module) => {
    const own = events.filter((e) => e.module === module).sort((a, b) => a.timeMs - b.timeMs);
    const batches: ReferenceBatch[] = [];
    // Roughly chronological batches whose events arrive out of order, as a client's outbox sends them.
    for (let i = 0; i < own.length; ) {
      const size = rng.int(150, 450);
      batches.push({ module, events: rng.shuffle(own.slice(i, i + size)) });
      i += size;
    }
    return batches;
  });
  // Interleave the two modules' batches.
  const out: ReferenceBatch[] = [];
  for (let i = 0; i < Math.max(...perModule.map((b) => b.length)); i++) {
    for (const batches of perModule) if (batches[i]) out.push(batches[i]!);
  }
  return out;
}

/** A retry of an event with a changed payload: still a duplicate, and the first version stays. */
function alteredCopy(event: ReferenceEvent): ReferenceEvent {
  return { ...event, data: { ...event.data, retried: true } };
}

/** Client retries: copies later in the same batch, copies in later batches, and one whole batch again. */
function addRetries(rng: Rng, batches: ReferenceBatch[]): void {
  const withId = (b: ReferenceBatch) => b.events.filter((e) => e.id !== "");
  batches.forEach((batch, index) => {
    for (const event of withId(batch)) {
      if (rng.chance(0.01)) {
        const at = rng.int(batch.events.indexOf(event) + 1, batch.events.length);
        batch.events.splice(at, 0, rng.chance(0.2) ? alteredCopy(event) : { ...event });
      }
      const later = batches.slice(index + 1).filter((b) => b.module === batch.module);
      if (later.length && rng.chance(0.02)) {
        rng.pick(later).events.push(rng.chance(0.2) ? alteredCopy(event) : { ...event });
      }
    }
  });
  // A whole batch re-sent after a timeout. Id-less events are left out of the copy: each would be stored
  // again under a new server id, tied in time with its twin, which the model cannot order.
  const resent = batches[2]!;
  batches.push({ module: resent.module, events: withId(resent).map((e) => ({ ...e })) });
}

/** Replays the sending order to count what the server must accept and report as duplicates. */
function expectedCounts(batches: readonly ReferenceBatch[]): { accepted: number; duplicates: number } {
  const seen = new Set<string>();
  let accepted = 0;
  let duplicates = 0;
  for (const batch of batches) {
    for (const e of batch.events) {
      const key = `${batch.module}\n${e.id}\n${e.timeMs}`;
      if (e.id !== "" && seen.has(key)) duplicates++;
      else accepted++;
      if (e.id !== "") seen.add(key);
    }
  }
  return { accepted, duplicates };
}

export function generateReferenceData(seed = 20_260_329): ReferenceData {
  const rng = new Rng(seed);
  const factory = new EventFactory(rng);
  const edges = bucketEdges();
  const events = distinctEvents(rng, factory, edges);
  events.push(...sharedIds(rng, factory, events));
  // After sharedIds, so that no later event can tie with an id-less one.
  dropSomeIds(rng, events);
  const batches = batchesOf(rng, events);
  addRetries(rng, batches);
  const { accepted, duplicates } = expectedCounts(batches);
  if (accepted !== events.length) throw new Error(`generator bug: ${accepted} accepted of ${events.length}`);
  return { batches, events, expectedAccepted: accepted, expectedDuplicates: duplicates, edges };
}

/** The RecordEvents form of an event: the Timestamp carries the extra sub-millisecond nanos. */
export function toEventInit(e: ReferenceEvent): MessageInitShape<typeof EventSchema> {
  return {
    id: e.id,
    type: e.type,
    time: {
      seconds: BigInt(Math.floor(e.timeMs / 1000)),
      nanos: (e.timeMs % 1000) * 1_000_000 + e.subMsNanos,
    },
    data: e.data,
    ...(e.location ? { location: { lat: e.location.lat, lon: e.location.lon } } : {}),
  };
}
