/**
 * How `record` encodes the segments it writes: by default here, in the caller's thread; the Node server
 * hands lists of prepared events (store/prepared-data.ts: RecordEvents decoded from the wire) to a worker
 * thread instead (functions/node-encoder.ts), so that encoding one group overlaps decoding the next
 * requests on a machine's other core. Either way the bytes are encodeSegment's. Compaction's merges
 * (`mergeSegments`) go to the same worker there: a merge of tens of thousands of events would otherwise
 * hold the server's requests for most of a second.
 */
import type { Inflate } from "./codec.ts";
import type { StoredEvent } from "./json.ts";
import { type PreparedData, type PreparedParts, preparedFromParts, preparedParts } from "./prepared-data.ts";
import { Segment } from "./segment.ts";
import { encodeSegment } from "./segment-encode.ts";

export interface SegmentEncoder {
  /** encodeSegment(events, ingestedAt), wherever it runs. */
  encode(events: readonly StoredEvent[], ingestedAt: number): Uint8Array | Promise<Uint8Array>;
  /** mergeSegments(…), wherever it runs; absent: the store merges in the calling thread. */
  merge?(
    inputs: readonly Uint8Array[],
    masks: readonly (Uint8Array | null)[],
    ingestedAt: number,
    supersedes: string[],
  ): Promise<Merged>;
}

/** A compaction's merged segment, with its events' ids and times (for the writer's duplicate index). */
export interface Merged {
  bytes: Uint8Array;
  count: number;
  /** The ids back to back; event i's ends at idEnd[i] (in the order merged, not the segment's). */
  ids: string;
  idEnd: Uint32Array;
  times: Float64Array;
}

/**
 * The compacted segment of the rows of `inputs` (segment files, plain) that `masks` leave (a 1 drops the
 * row; null keeps all), in input order, naming `supersedes`: what compaction.ts writes. The bytes are those
 * of encodeSegment over the same events read from already loaded segments (the inline merge).
 */
export function mergeSegments(
  inputs: readonly Uint8Array[],
  masks: readonly (Uint8Array | null)[],
  ingestedAt: number,
  supersedes: string[],
  inflate?: Inflate,
): Merged {
  const segments = inputs.map((bytes, k) => new Segment(bytes, `merge input ${k}`, inflate));
  const events = mergedEvents(segments.map((segment, k) => ({ segment, mask: masks[k] ?? null })));
  return mergedOf(events, encodeSegment(events, ingestedAt, supersedes, true));
}

/** The events a merge keeps: each input's rows in order, but those its mask drops (a 1; null keeps all). */
export function mergedEvents(
  inputs: readonly { segment: Segment; mask: Uint8Array | null }[],
): StoredEvent[] {
  const events: StoredEvent[] = [];
  for (const { segment, mask } of inputs)
    for (let r = 0; r < segment.count; r++) if (!mask?.[r]) events.push(segment.event(r));
  return events;
}

/** `bytes`, the segment of `events`, with their ids and times. */
function mergedOf(events: readonly StoredEvent[], bytes: Uint8Array): Merged {
  const idEnd = new Uint32Array(events.length);
  const times = new Float64Array(events.length);
  let at = 0;
  events.forEach((e, i) => {
    at += e.id.length;
    idEnd[i] = at;
    times[i] = e.time;
  });
  return { bytes, count: events.length, ids: events.map((e) => e.id).join(""), idEnd, times };
}

export const INLINE_ENCODER: SegmentEncoder = {
  encode: (events, ingestedAt) => encodeSegment(events, ingestedAt),
};

/** A list of prepared events as arrays and strings, for structured clone (`transfer`: its buffers). */
export interface PackedEvents {
  /** The ids back to back (one string clones faster than many); event i's ends at idEnd[i]. */
  ids: string;
  idEnd: Uint32Array;
  /** The distinct types, and each event's. */
  types: string[];
  type: Uint32Array;
  time: Float64Array;
  lat: Float64Array;
  lon: Float64Array;
  /** NaN where an event has no `ingested`. */
  ingested: Float64Array;
  /** Per event, its data's PreparedParts (an index into `data`) and row there. */
  source: Uint32Array;
  row: Uint32Array;
  data: PreparedParts[];
}

/** `events` packed, or undefined when one of them was not prepared (its data is a JS object). */
export function packPrepared(events: readonly StoredEvent[]): PackedEvents | undefined {
  const n = events.length;
  const ids = new Array<string>(n);
  const types = new Map<string, number>();
  const packed: PackedEvents = {
    ids: "",
    idEnd: new Uint32Array(n),
    types: [],
    type: new Uint32Array(n),
    time: new Float64Array(n),
    lat: new Float64Array(n),
    lon: new Float64Array(n),
    ingested: new Float64Array(n),
    source: new Uint32Array(n),
    row: new Uint32Array(n),
    data: [],
  };
  const sources = new Map<PreparedData, number>();
  let idAt = 0;
  for (let i = 0; i < n; i++) {
    const e = events[i]!;
    const prepared = e.prepared;
    if (prepared === undefined) return undefined;
    let source = sources.get(prepared);
    if (source === undefined) {
      source = sources.size;
      sources.set(prepared, source);
    }
    ids[i] = e.id;
    idAt += e.id.length;
    packed.idEnd[i] = idAt;
    let type = types.get(e.type);
    if (type === undefined) {
      type = types.size;
      types.set(e.type, type);
    }
    packed.type[i] = type;
    packed.time[i] = e.time;
    packed.lat[i] = e.lat;
    packed.lon[i] = e.lon;
    packed.ingested[i] = e.ingested ?? Number.NaN;
    packed.source[i] = source;
    packed.row[i] = e.preparedRow!;
  }
  packed.ids = ids.join("");
  packed.types = [...types.keys()];
  packed.data = [...sources.keys()].map(preparedParts);
  return packed;
}

/** The buffers of a packed list, to transfer rather than copy. */
export function packedBuffers(packed: PackedEvents): ArrayBuffer[] {
  const views: ArrayBufferView[] = [
    packed.idEnd,
    packed.type,
    packed.time,
    packed.lat,
    packed.lon,
    packed.ingested,
    packed.source,
    packed.row,
  ];
  for (const d of packed.data)
    views.push(
      d.json,
      d.jsonEnd,
      d.entryEnd,
      d.entryPath,
      d.entryTag,
      d.entryVal,
      d.texts.bytes,
      d.texts.start,
      d.texts.end,
    );
  return views.map((v) => v.buffer as ArrayBuffer);
}

/** The events a packed list holds, as encodeSegment reads them (`data` is never read: they are prepared). */
export function unpackPrepared(packed: PackedEvents): StoredEvent[] {
  const data = packed.data.map(preparedFromParts);
  return Array.from(packed.idEnd, (end, i) => {
    const ingested = packed.ingested[i]!;
    const event: StoredEvent = {
      id: packed.ids.slice(i > 0 ? packed.idEnd[i - 1] : 0, end),
      type: packed.types[packed.type[i]!]!,
      time: packed.time[i]!,
      data: {},
      lat: packed.lat[i]!,
      lon: packed.lon[i]!,
      prepared: data[packed.source[i]!]!,
      preparedRow: packed.row[i]!,
    };
    if (!Number.isNaN(ingested)) event.ingested = ingested;
    return event;
  });
}
