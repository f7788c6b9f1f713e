/**
 * The segment: one immutable, columnar file of events (docs/storage.md describes the bytes).
 *
 *   "TSEG" | version u8 | 3 zero bytes | header length u32 LE | header JSON | padding to 8 | columns…
 *   | CRC-32 u32 LE of every byte before it (from version 2; version 1 segments have none and are still read)
 *
 * Every column starts 8-byte aligned so it can be viewed as a typed array without copying. Events are
 * sorted by (time, id). Data is kept twice, on purpose: as per-path value columns that queries scan, and as
 * each event's original JSON, which only ListEvents reads.
 */
import { deflateSync } from "fflate";
import { fflateInflate, type Inflate } from "./codec.ts";
import { crc32 } from "./crc32.ts";
import { csvPaths } from "./csv-flatten.ts";
import { lowerBound } from "./dedup.ts";
import { TallyError } from "./errors.ts";
import { canonicalJsonOf, type JsonObject, type JsonValue, type StoredEvent } from "./json.ts";
import { type PreparedData, TAG_VISIT } from "./prepared-data.ts";
import {
  buildRollups,
  ROLLUP_SLOT_MS,
  type RollupTable,
  rollupTable,
  type SlotNumbers,
  slotNumberArray,
} from "./rollup.ts";

/**
 * The version written. Version 2 (columns listed by name, `ColumnsByName`) and version 1 (no checksum)
 * are still read.
 */
export const SEGMENT_VERSION = 3;
/** Bytes of the trailer (from version 2): the CRC-32 of everything before it. */
const TRAILER = 4;
const MAGIC = [0x54, 0x53, 0x45, 0x47]; // "TSEG"
/** The column holding the CRC-32 of the header JSON, in segments with per-column sums. */
const HEADER_SUM = "hsum";

/** Value tags of path columns. */
export const TAG_NULL = 0;
export const TAG_FALSE = 1;
export const TAG_TRUE = 2;
export const TAG_NUMBER = 3;
/** `vals` holds the code of the string in the segment dictionary. */
export const TAG_STRING = 4;
/** An object; `vals` holds the dictionary code of its canonical JSON text (keys sorted). */
export const TAG_OBJECT = 5;

/** The values one path reaches: event i's values are [offsets[i], offsets[i+1]). */
export interface PathColumn {
  offsets: Uint32Array;
  tags: Uint8Array;
  vals: Float64Array;
}

/** The bytes of a path-shaped column's arrays (what a cache of one counts). */
export function pathColumnBytes(column: PathColumn): number {
  return column.offsets.byteLength + column.tags.byteLength + column.vals.byteLength;
}

type ColumnKind = "f64" | "u32" | "u8" | "bytes" | "deflate";
interface Header {
  count: number;
  minTime: number;
  maxTime: number;
  /** Bounding box of located events: [south, west, north, east], or null when none has a location. */
  bbox: [number, number, number, number] | null;
  types: string[];
  paths: string[];
  /** Names of the segments (same partition) this one replaces; absent on segments written by RecordEvents. */
  supersedes?: string[];
  /**
   * The distinct CSV shapes of the rows (csv-flatten.ts: each row's CSV columns in the order of its data
   * text); column `shape` holds each row's index here. Written by compaction, so that an export knows its
   * header without reading the data; absent on segments written by RecordEvents.
   */
  shapes?: string[][];
  /**
   * The rollup tables (rollup.ts); table k's columns are `r<k>.*`, its slots stored as slot numbers
   * (`r<k>.q`, from the table's `slotBase`). Absent in segments written before them.
   */
  rollupTables?: RollupInfo[];
  /**
   * The same tables as first written, with each slot entry's start in ms (`r<k>.s`, f64): still read.
   * Writers now write `rollupTables` instead, which a reader that knows only this field ignores (it scans
   * the rows: slower, never wrong) rather than failing on a column it does not find.
   */
  rollups?: RollupInfo[];
  /** The latest `ingested` instant, so that snapshot checks need not read the column. Optional. */
  maxIngested?: number;
}

/**
 * How versions 1 and 2 list the columns: by name, `[kind, offset, byteLength]`, and (compacted segments)
 * each one's CRC-32 by name.
 */
interface ColumnsByName {
  cols: Record<string, [ColumnKind, number, number]>;
  sums?: Record<string, number>;
}

/**
 * How version 3 lists the columns, in body order: names and kinds space-separated, byte lengths, and
 * (compacted segments) each one's CRC-32, 0 for `hsum`. Column i starts at the first multiple of 8 at or
 * after the end of column i − 1 (column 0 at 0). A cold query parses one header per segment: arrays of
 * numbers and two strings parse several times faster than an object with a property per column.
 */
interface ColumnsInOrder {
  columns: string;
  kinds: string;
  lengths: number[];
  sums?: number[];
}

/**
 * A column as a reader finds it: kind, offset from the body's start, byte length, and its CRC-32 when the
 * segment has per-column sums (written by compaction). With them, and column `hsum` (the CRC-32 of the
 * header JSON, first in the body), a reader may fetch and check only the columns it uses (Segment.lazy).
 */
type ColumnEntry = readonly [kind: ColumnKind, offset: number, length: number, sum: number | undefined];

export interface RollupInfo {
  dims: readonly string[];
  explode?: string;
  textUnique?: boolean;
  slotMs: number;
  /** In `rollupTables`: where slot number 0 starts (ms). */
  slotBase?: number;
  count: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: false });

/**
 * Encodes events (any order) into segment bytes. `ingestedAt` is when the write happened (ms), for events
 * that do not carry their own. `supersedes` names the segments a compacted segment replaces. `compress`
 * deflates the per-event JSON column: compaction does, so ingest stays fast and what is kept is small.
 *
 * This runs once per recorded event, so it allocates little per event: values go straight into growable
 * typed arrays, the walk is a plain function over one state object (no closures per segment), and string
 * columns are encoded in one native call when they are ASCII. segment-encode.test.ts proves the bytes equal
 * to the previous, plainer encoder's (test/segment-encode-reference.ts) on fuzzed events.
 */
export function encodeSegment(
  input: readonly StoredEvent[],
  ingestedAt: number,
  supersedes: string[] = [],
  compress = false,
): Uint8Array {
  const events = sortedByTimeAndId(input);
  const n = events.length;
  const time = new Float64Array(n);
  const ingested = new Float64Array(n);
  const lat = new Float64Array(n);
  const lon = new Float64Array(n);
  const typeCodes = new Uint32Array(n);
  const types = new Dictionary();
  const state: WalkState = {
    strings: new Dictionary(),
    paths: new Map(),
    objectCodes: new Map(),
    capacity: Math.max(n, 16),
  };
  const top = new Map<string, PathBuilder>();
  const ids = new Array<string>(n);
  const texts = new Array<string>(n);
  let located = false;
  let [south, west, north, east] = [0, 0, 0, 0];
  let maxIngested = Number.NEGATIVE_INFINITY;
  let lastType: string | undefined;
  let lastTypeCode = 0;
  // Events the wire decoder prepared: their data's text is copied and their values pushed as they are.
  const prepared = events.some((e) => e.prepared !== undefined) ? new PreparedRows(n) : undefined;

  for (let i = 0; i < n; i++) {
    const event = events[i]!;
    time[i] = event.time;
    const at = event.ingested ?? ingestedAt;
    ingested[i] = at;
    if (at > maxIngested) maxIngested = at;
    const eventLat = event.lat;
    const eventLon = event.lon;
    lat[i] = eventLat;
    lon[i] = eventLon;
    // Batches hold few types, often in runs: the same string needs no look-up.
    if (event.type !== lastType) {
      lastType = event.type;
      lastTypeCode = types.code(lastType);
    }
    typeCodes[i] = lastTypeCode;
    if (!Number.isNaN(eventLat)) {
      if (located) {
        south = Math.min(south, eventLat);
        west = Math.min(west, eventLon);
        north = Math.max(north, eventLat);
        east = Math.max(east, eventLon);
      } else {
        [south, west, north, east] = [eventLat, eventLon, eventLat, eventLon];
        located = true;
      }
    }
    ids[i] = event.id;
    if (event.prepared !== undefined) {
      prepared!.add(state, event.prepared, event.preparedRow!, i);
      continue;
    }
    const data = event.data;
    const text = event.dataJson ?? JSON.stringify(data);
    if (prepared) prepared.addText(text, i);
    else texts[i] = text;
    const keys = Object.keys(data);
    for (let k = 0; k < keys.length; k++) {
      const key = keys[k]!;
      walk(state, data[key] as JsonValue, childOf(state, top, undefined, key), i);
    }
  }
  const bbox: Header["bbox"] = located ? [south, west, north, east] : null;
  const strings = state.strings;

  // Compacted segments are the large ones worth reading column by column: they carry per-column sums.
  const writer = new ColumnWriter(compress);
  writer.add("time", "f64", time);
  writer.add("ingested", "f64", ingested);
  writer.add("lat", "f64", lat);
  writer.add("lon", "f64", lon);
  writer.add("type", "u32", typeCodes);
  writer.strings("dict", strings.values);
  writer.strings("id", ids);
  // The original JSON is the largest column and only ListEvents and exports read it: deflate pays there,
  // once compaction has merged segments (fresh per-batch segments stay raw, for ingest speed).
  if (prepared) writer.stringBytes("data", prepared.offsets, prepared.bytes(), compress);
  else writer.strings("data", texts, compress);
  const shapes = compress ? csvShapes(prepared ? prepared.texts() : texts) : undefined;
  if (shapes) writer.add("shape", "u32", shapes.codes);
  const pathNames = [...state.paths.keys()];
  const pathColumns = new Map<string, PathColumn>();
  let p = 0;
  for (const column of state.paths.values()) {
    const offsets = new Uint32Array(n + 1);
    const rows = column.rows;
    const length = column.length;
    for (let k = 0; k < length; k++) offsets[rows[k]! + 1]!++;
    for (let i = 0; i < n; i++) offsets[i + 1]! += offsets[i]!;
    const encoded = { offsets, tags: column.tags.subarray(0, length), vals: column.vals.subarray(0, length) };
    pathColumns.set(column.path, encoded);
    writer.add(`p${p}.o`, "u32", offsets);
    writer.add(`p${p}.t`, "u8", encoded.tags);
    writer.add(`p${p}.v`, "f64", encoded.vals);
    p++;
  }
  // Rollups travel in the same file as the rows they count: written, replaced and deleted with them.
  const rollups =
    n > 0
      ? buildRollups(
          time,
          typeCodes,
          types.values.length,
          (path) => pathColumns.get(path),
          strings.values,
          // Exploded tables pay off in large segments; fresh ones carry the value-set tables, exact for all.
          compress,
        )
      : [];
  rollups.forEach((table, k) => {
    writer.add(`r${k}.y`, "u32", table.type);
    writer.add(`r${k}.n`, "u32", table.total);
    writer.add(`r${k}.f`, "u32", table.first);
    writer.add(`r${k}.q`, slotKind(table.slot), table.slot);
    writer.add(`r${k}.c`, "u32", table.cum);
    table.columns.forEach((column, j) => {
      writer.add(`r${k}.${j}.o`, "u32", column.offsets);
      writer.add(`r${k}.${j}.t`, "u8", column.tags);
      writer.add(`r${k}.${j}.v`, "f64", column.vals);
    });
    // The table's own texts (its codes ascending, and theirs): a lazy read of the table needs no dictionary.
    if (compress) {
      const codes = new Set<number>();
      for (const column of table.columns)
        column.tags.forEach((tag, i) => {
          if (tag === TAG_STRING || tag === TAG_OBJECT) codes.add(column.vals[i]!);
        });
      const sorted = Uint32Array.from(codes).sort();
      writer.add(`r${k}.x.c`, "u32", sorted);
      writer.strings(
        `r${k}.x`,
        Array.from(sorted, (code) => strings.values[code]!),
      );
    }
  });

  const header: Header = {
    count: n,
    minTime: n ? time[0]! : 0,
    maxTime: n ? time[n - 1]! : 0,
    bbox,
    types: types.values,
    paths: pathNames,
    ...(n > 0 ? { maxIngested } : {}),
    ...(supersedes.length > 0 ? { supersedes } : {}),
    ...(shapes ? { shapes: shapes.shapes } : {}),
    ...(rollups.length > 0
      ? {
          rollupTables: rollups.map((t) => ({
            dims: t.dims,
            slotMs: t.slotMs,
            slotBase: t.slotBase,
            count: t.count,
            ...(t.explode ? { explode: t.explode, textUnique: t.textUnique } : {}),
          })),
        }
      : {}),
  };
  return writer.finish(header);
}

/** How a table's slot numbers are stored: bytes for a day's quarter-hours, else 32-bit words. */
export function slotKind(slot: SlotNumbers): "u8" | "u32" {
  if (slot instanceof Uint8Array) return "u8";
  if (slot instanceof Uint32Array) return "u32";
  throw new Error("segment: slot numbers are stored as bytes or 32-bit words");
}

function csvShapes(texts: readonly string[]): { shapes: string[][]; codes: Uint32Array } {
  const shapes: string[][] = [];
  const byKey = new Map<string, number>();
  const codes = new Uint32Array(texts.length);
  texts.forEach((text, i) => {
    const paths = csvPaths(text);
    const key = JSON.stringify(paths);
    let code = byKey.get(key);
    if (code === undefined) {
      code = shapes.length;
      shapes.push(paths);
      byKey.set(key, code);
    }
    codes[i] = code;
  });
  return { shapes, codes };
}

/** Events by (time, id); a batch already in that order (the usual one) is used as it is. */
function sortedByTimeAndId(input: readonly StoredEvent[]): readonly StoredEvent[] {
  const order = (a: StoredEvent, b: StoredEvent) =>
    a.time - b.time || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  // The sort is stable, so an input whose neighbours are in order is exactly what it would return.
  for (let i = 1; i < input.length; i++)
    if (order(input[i - 1]!, input[i]!) > 0) return [...input].sort(order);
  return input;
}

/** What the walk over events' data builds: path columns, the string dictionary, object codes. */
interface WalkState {
  strings: Dictionary;
  /** Path columns in order of first appearance. */
  paths: Map<string, PathBuilder>;
  /** Object JSON text as written → dictionary code of its canonical text. */
  objectCodes: Map<string, number>;
  /** The events in the segment (at least 16): how many values a path's first arrays have room for. */
  capacity: number;
}

/**
 * The column of `key` below a parent column (or at the top), found by its key in the parent's children:
 * property names hash once, a dotted path is built only for a new one.
 */
function childOf(
  state: WalkState,
  children: Map<string, PathBuilder>,
  parent: string | undefined,
  key: string,
): PathBuilder {
  let column = children.get(key);
  if (!column) {
    column = pathColumn(state, parent === undefined ? key : `${parent}.${key}`);
    children.set(key, column);
  }
  return column;
}

/** The column of a dotted path, new if the segment has none yet: top-level "a.b" and a → b are one path. */
function pathColumn(state: WalkState, path: string): PathBuilder {
  let column = state.paths.get(path);
  if (!column) {
    column = new PathBuilder(path, Math.min(state.capacity, 64));
    state.paths.set(path, column);
  }
  return column;
}

/** What flatten.ts defines: arrays reach their elements, objects are values and have paths below them. */
function walk(state: WalkState, value: JsonValue, column: PathBuilder, row: number): void {
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) walk(state, value[i] as JsonValue, column, row);
    return;
  }
  if (value === null) {
    column.push(row, TAG_NULL, 0);
    return;
  }
  switch (typeof value) {
    case "boolean":
      column.push(row, value ? TAG_TRUE : TAG_FALSE, 0);
      return;
    case "number":
      column.push(row, TAG_NUMBER, value);
      return;
    case "string":
      column.push(row, TAG_STRING, state.strings.code(value));
      return;
    default: {
      // Objects written alike (same keys in the same order) share a canonical text: key order is
      // sorted only once per spelling.
      const raw = JSON.stringify(value);
      let code = state.objectCodes.get(raw);
      if (code === undefined) {
        code = state.strings.code(canonicalJsonOf(raw, value));
        state.objectCodes.set(raw, code);
      }
      column.push(row, TAG_OBJECT, code);
      column.children ??= new Map();
      const children = column.children;
      const keys = Object.keys(value);
      for (let k = 0; k < keys.length; k++) {
        const key = keys[k]!;
        walk(state, value[key] as JsonValue, childOf(state, children, column.path, key), row);
      }
    }
  }
}

/**
 * The data of a segment some of whose events the wire decoder prepared (store/prepared-data.ts): their
 * texts are copied as bytes and their values pushed in their order, paths and texts mapped once per
 * request to the segment's columns and dictionary codes — in the order the walk would meet them, so the
 * segment is the one the object path encodes. The other events' texts are encoded beside them.
 */
class PreparedRows {
  readonly offsets: Uint32Array;
  private data = new Uint8Array(65536);
  private at = 0;
  private last: PreparedData | undefined;
  /** The run of texts not copied yet: from.json[runStart, runEnd), to go at runAt. */
  private runFrom: PreparedData | undefined;
  private runStart = 0;
  private runEnd = 0;
  private runAt = 0;
  private paths: (PathBuilder | undefined)[] = [];
  private codes: Int32Array = new Int32Array(0);
  private readonly seen = new Map<PreparedData, { paths: (PathBuilder | undefined)[]; codes: Int32Array }>();

  constructor(n: number) {
    this.offsets = new Uint32Array(n + 1);
  }

  add(state: WalkState, from: PreparedData, r: number, row: number): void {
    if (from !== this.last) this.use(from);
    // Texts are copied in runs: a request's events mostly follow each other in the segment.
    const start = r > 0 ? from.jsonEnd[r - 1]! : 0;
    const end = from.jsonEnd[r]!;
    if (from !== this.runFrom || start !== this.runEnd) this.flush();
    if (this.runFrom === undefined) {
      this.runFrom = from;
      this.runStart = start;
      this.runAt = this.at;
    }
    this.runEnd = end;
    this.at += end - start;
    this.offsets[row + 1] = this.at;
    const paths = this.paths;
    const codes = this.codes;
    for (let k = r > 0 ? from.entryEnd[r - 1]! : 0, last = from.entryEnd[r]!; k < last; k++) {
      const p = from.entryPath[k]!;
      let column = paths[p];
      if (column === undefined) {
        column = pathColumn(state, from.paths[p]!);
        paths[p] = column;
      }
      const tag = from.entryTag[k]!;
      if (tag === TAG_VISIT) continue;
      let val = from.entryVal[k]!;
      if (tag === TAG_STRING || tag === TAG_OBJECT) {
        let code = codes[val]!;
        if (code < 0) {
          code = state.strings.code(from.text(val));
          codes[val] = code;
        }
        val = code;
      }
      column.push(row, tag, val);
    }
  }

  addText(text: string, row: number): void {
    this.flush();
    this.room(this.at + text.length * 3);
    this.at += encoder.encodeInto(text, this.data.subarray(this.at)).written;
    this.offsets[row + 1] = this.at;
  }

  bytes(): Uint8Array {
    this.flush();
    return this.data.subarray(0, this.at);
  }

  /** Copies the pending run of texts (its place, from runAt to at, is already counted). */
  private flush(): void {
    const from = this.runFrom;
    if (from === undefined) return;
    this.runFrom = undefined;
    this.room(this.runAt + this.runEnd - this.runStart);
    this.data.set(from.json.subarray(this.runStart, this.runEnd), this.runAt);
  }

  texts(): string[] {
    const data = this.bytes();
    return Array.from(this.offsets.subarray(1), (end, i) =>
      decoder.decode(data.subarray(this.offsets[i], end)),
    );
  }

  private use(from: PreparedData): void {
    this.last = from;
    let maps = this.seen.get(from);
    if (!maps) {
      maps = { paths: [], codes: new Int32Array(from.texts).fill(-1) };
      this.seen.set(from, maps);
    }
    this.paths = maps.paths;
    this.codes = maps.codes;
  }

  /** Room for `size` bytes of texts, keeping those written. */
  private room(size: number): void {
    if (size <= this.data.length) return;
    const data = new Uint8Array(Math.max(this.data.length * 2, size));
    data.set(this.data.subarray(0, this.at));
    this.data = data;
  }
}

/** One path's values as the walk finds them: (row, tag, value) in growable typed arrays. */
class PathBuilder {
  rows: Uint32Array;
  tags: Uint8Array;
  vals: Float64Array;
  length = 0;
  children: Map<string, PathBuilder> | undefined = undefined;

  constructor(
    readonly path: string,
    capacity: number,
  ) {
    this.rows = new Uint32Array(capacity);
    this.tags = new Uint8Array(capacity);
    this.vals = new Float64Array(capacity);
  }

  push(row: number, tag: number, val: number): void {
    const at = this.length;
    if (at === this.rows.length) this.grow();
    this.rows[at] = row;
    this.tags[at] = tag;
    this.vals[at] = val;
    this.length = at + 1;
  }

  private grow(): void {
    const capacity = this.rows.length * 2;
    const rows = new Uint32Array(capacity);
    const tags = new Uint8Array(capacity);
    const vals = new Float64Array(capacity);
    rows.set(this.rows);
    tags.set(this.tags);
    vals.set(this.vals);
    [this.rows, this.tags, this.vals] = [rows, tags, vals];
  }
}

class Dictionary {
  readonly values: string[] = [];
  private readonly codes = new Map<string, number>();
  code(value: string): number {
    let code = this.codes.get(value);
    if (code === undefined) {
      code = this.values.length;
      this.values.push(value);
      this.codes.set(value, code);
    }
    return code;
  }
}

class ColumnWriter {
  private readonly columns: { name: string; kind: ColumnKind; bytes: Uint8Array }[] = [];

  constructor(private readonly sums: boolean) {
    // The header's own CRC-32, first in the body so that the read that fetches the header fetches it.
    if (sums) this.add(HEADER_SUM, "u32", new Uint32Array(1));
  }

  add(name: string, kind: ColumnKind, values: ArrayBufferView): void {
    this.columns.push({
      name,
      kind,
      bytes: new Uint8Array(values.buffer, values.byteOffset, values.byteLength),
    });
  }

  stringBytes(name: string, offsets: Uint32Array, bytes: Uint8Array, compress: boolean): void {
    this.add(`${name}.o`, "u32", offsets);
    if (compress) this.add(`${name}.b`, "deflate", deflateSync(bytes, { level: 1 }));
    else this.add(`${name}.b`, "bytes", bytes);
  }

  strings(name: string, values: readonly string[], compress = false): void {
    const offsets = new Uint32Array(values.length + 1);
    // All ASCII (the usual case): one native encode of the joined strings, whose byte offsets are then
    // their lengths. Otherwise string by string (a lone surrogate at one's end must not pair with the next).
    const joined = values.join("");
    let bytes = new Uint8Array(joined.length);
    const { read, written } = encoder.encodeInto(joined, bytes);
    if (read === joined.length && written === joined.length) {
      for (let i = 0; i < values.length; i++) offsets[i + 1] = offsets[i]! + values[i]!.length;
    } else {
      // One buffer for all, filled with encodeInto: a Uint8Array per string costs more than the encoding.
      let blob = new Uint8Array(64 + joined.length * 3);
      let at = 0;
      for (let i = 0; i < values.length; i++) {
        const value = values[i]!;
        if (blob.length - at < value.length * 3) {
          const bigger = new Uint8Array((at + value.length * 3) * 2);
          bigger.set(blob.subarray(0, at));
          blob = bigger;
        }
        at += encoder.encodeInto(value, blob.subarray(at)).written;
        offsets[i + 1] = at;
      }
      bytes = blob.subarray(0, at);
    }
    this.stringBytes(name, offsets, bytes, compress);
  }

  finish(header: Header): Uint8Array {
    // Columns are placed (and listed, and summed) in layout order, each padded to a multiple of 8.
    const columns = layoutOrder(this.columns);
    const listed: ColumnsInOrder = {
      columns: columns.map((c) => c.name).join(" "),
      kinds: columns.map((c) => c.kind).join(" "),
      lengths: columns.map((c) => c.bytes.byteLength),
      ...(this.sums ? { sums: columns.map((c) => (c.name === HEADER_SUM ? 0 : crc32(c.bytes))) } : {}),
    };
    const json = encoder.encode(JSON.stringify({ ...header, ...listed }));
    const start = align8(12 + json.byteLength);
    let size = 0;
    for (const c of columns) size = align8(size + c.bytes.byteLength);
    const out = new Uint8Array(start + size + TRAILER);
    out.set(MAGIC, 0);
    out[4] = SEGMENT_VERSION;
    new DataView(out.buffer).setUint32(8, json.byteLength, true);
    out.set(json, 12);
    let offset = 0;
    for (const { bytes } of columns) {
      out.set(bytes, start + offset);
      offset = align8(offset + bytes.byteLength);
    }
    const at = start + size;
    if (this.sums) new DataView(out.buffer).setUint32(start, crc32(json), true);
    new DataView(out.buffer).setUint32(at, crc32(out.subarray(0, at)), true);
    return out;
  }
}

/**
 * Where columns go in the body: the header sum first, then the rollup tables (`r<k>.*`), smallest table
 * first, then the rest as written. A lazy read's first request fetches the header and whatever follows it
 * up to its size (event-store.ts HEAD_BYTES), so the small tables that most dashboard queries answer from
 * come with the header, in the same read.
 */
function layoutOrder<C extends { name: string; bytes: Uint8Array }>(columns: readonly C[]): C[] {
  const tables = new Map<number, { bytes: number; columns: C[] }>();
  const first: C[] = [];
  const rest: C[] = [];
  for (const column of columns) {
    const k = /^r(\d+)\./.exec(column.name)?.[1];
    if (k === undefined) {
      (column.name === HEADER_SUM ? first : rest).push(column);
      continue;
    }
    let table = tables.get(Number(k));
    if (!table) {
      table = { bytes: 0, columns: [] };
      tables.set(Number(k), table);
    }
    table.bytes += align8(column.bytes.byteLength);
    table.columns.push(column);
  }
  const bySize = [...tables].sort(([ka, a], [kb, b]) => a.bytes - b.bytes || ka - kb);
  return [...first, ...bySize.flatMap(([, t]) => t.columns), ...rest];
}

/** Kinds a column may have (header `kinds`; `cols` before version 3). */
const COLUMN_KINDS = new Set(["f64", "u32", "u8", "bytes", "deflate"]);

/**
 * The header, checked for the shape readers rely on (so that a corrupt one fails here, as data_loss, not
 * later as a TypeError), with its columns by name, whether they carry sums, their count (the header sum
 * aside) and where the last one ends. One pass over the columns: a cold query checks a header per segment.
 */
function checkHeader(
  h: unknown,
  version: number,
): { header: Header; layout: Map<string, ColumnEntry>; sums: boolean; columnCount: number; bodyEnd: number } {
  const header = h as Header;
  const ok =
    typeof header === "object" &&
    header !== null &&
    Number.isSafeInteger(header.count) &&
    header.count >= 0 &&
    typeof header.minTime === "number" &&
    typeof header.maxTime === "number" &&
    (header.bbox === null || (Array.isArray(header.bbox) && header.bbox.length === 4)) &&
    Array.isArray(header.types) &&
    header.types.every((t) => typeof t === "string") &&
    Array.isArray(header.paths) &&
    header.paths.every((p) => typeof p === "string") &&
    (header.supersedes === undefined ||
      (Array.isArray(header.supersedes) && header.supersedes.every((s) => typeof s === "string"))) &&
    (header.maxIngested === undefined || typeof header.maxIngested === "number");
  if (!ok) throw new Error(WRONG_SHAPE);
  const listed = version >= 3 ? columnsInOrder(h as ColumnsInOrder) : columnsByName(h as ColumnsByName);
  return { header, ...listed };
}

const WRONG_SHAPE = "header fields have the wrong shape";

function isColumnLength(n: unknown): n is number {
  return Number.isSafeInteger(n) && (n as number) >= 0;
}

/** Version 3's columns (ColumnsInOrder), by name. */
function columnsInOrder({ columns, kinds, lengths, sums }: ColumnsInOrder) {
  if (
    typeof columns !== "string" ||
    typeof kinds !== "string" ||
    !Array.isArray(lengths) ||
    (sums !== undefined && !Array.isArray(sums))
  )
    throw new Error(WRONG_SHAPE);
  const names = columns === "" ? [] : columns.split(" ");
  const kindOf = kinds === "" ? [] : kinds.split(" ");
  if (
    kindOf.length !== names.length ||
    lengths.length !== names.length ||
    (sums && sums.length !== names.length)
  )
    throw new Error(WRONG_SHAPE);
  const layout = new Map<string, ColumnEntry>();
  let offset = 0;
  let bodyEnd = 0;
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!;
    const kind = kindOf[i] as ColumnKind;
    const length = lengths[i];
    const sum = sums?.[i];
    if (
      name === "" ||
      !COLUMN_KINDS.has(kind) ||
      !isColumnLength(length) ||
      (sums && !Number.isInteger(sum)) ||
      layout.has(name)
    )
      throw new Error(WRONG_SHAPE);
    layout.set(name, [kind, offset, length, sum]);
    bodyEnd = offset + length;
    offset = align8(bodyEnd);
  }
  return {
    layout,
    sums: sums !== undefined,
    columnCount: names.length - (layout.has(HEADER_SUM) ? 1 : 0),
    bodyEnd,
  };
}

/** Versions 1 and 2's columns (ColumnsByName). */
function columnsByName({ cols, sums }: ColumnsByName) {
  if (
    typeof cols !== "object" ||
    cols === null ||
    (sums !== undefined && (typeof sums !== "object" || sums === null))
  )
    throw new Error(WRONG_SHAPE);
  const layout = new Map<string, ColumnEntry>();
  let columnCount = 0;
  let bodyEnd = 0;
  for (const name in cols) {
    if (!Object.hasOwn(cols, name)) continue;
    const c = cols[name];
    if (
      !Array.isArray(c) ||
      c.length !== 3 ||
      !COLUMN_KINDS.has(c[0]) ||
      !isColumnLength(c[1]) ||
      c[1] % 8 !== 0 ||
      !isColumnLength(c[2])
    )
      throw new Error(WRONG_SHAPE);
    bodyEnd = Math.max(bodyEnd, c[1] + c[2]);
    const sum = sums?.[name];
    if (name !== HEADER_SUM) {
      columnCount++;
      if (sums && !Number.isInteger(sum)) throw new Error(WRONG_SHAPE);
    }
    layout.set(name, [c[0], c[1], c[2], sum]);
  }
  return { layout, sums: sums !== undefined, columnCount, bodyEnd };
}

/**
 * The header's rollup tables, or none when any is not one this reader knows (a table of another shape
 * or a column it would need is missing): rollups only repeat what the rows hold, so a segment whose
 * tables cannot be read is answered from its rows — never rejected, which would quarantine good data.
 * (The first writer of rollups, for a few minutes on 2026-11-29, wrote `rollups` of other slot lengths
 * and columns; `rollupTables` may one day hold tables a later Tally adds.)
 */
function usableRollups(header: Header, layout: ReadonlyMap<string, ColumnEntry>): readonly RollupInfo[] {
  const numbered = header.rollupTables !== undefined;
  const infos: unknown = header.rollupTables ?? header.rollups ?? [];
  if (!Array.isArray(infos)) return [];
  const has = (name: string) => layout.has(name);
  const ok = infos.every(
    (info: RollupInfo, k) =>
      typeof info === "object" &&
      info !== null &&
      Array.isArray(info.dims) &&
      info.dims.every((d) => typeof d === "string") &&
      (info.explode === undefined || info.dims.includes(info.explode)) &&
      info.slotMs === ROLLUP_SLOT_MS &&
      Number.isSafeInteger(info.count) &&
      info.count >= 0 &&
      (numbered ? Number.isSafeInteger(info.slotBase) : info.slotBase === undefined) &&
      [`r${k}.y`, `r${k}.n`, `r${k}.f`, `r${k}.c`, numbered ? `r${k}.q` : `r${k}.s`].every(has) &&
      info.dims.every((_, j) => [`r${k}.${j}.o`, `r${k}.${j}.t`, `r${k}.${j}.v`].every(has)),
  );
  return ok ? (infos as RollupInfo[]) : [];
}

function align8(n: number): number {
  return n + ((8 - (n % 8)) % 8);
}

/**
 * Where a lazily read segment's columns come from: byte ranges [offset, offset + length) of its file, each
 * returned as its own buffer (8-byte aligned), or undefined when the file is gone.
 */
export interface ColumnSource {
  read(ranges: readonly (readonly [number, number])[]): Promise<Uint8Array[] | undefined>;
  /** Bytes past which a run of adjacent columns is read as more than one range (side by side); absent: never. */
  splitAt?: number;
  /** Told about the bytes each load added (the store's cache accounts for them). */
  loaded?(bytes: number): void;
  /** Turns a damaged column's data_loss into the error to throw (the store quarantines the segment). */
  damaged?(error: TallyError): Promise<TallyError>;
}

/** Thrown when a lazily read segment is asked for a column no `load` fetched: a bug, never damage. */
export class ColumnNotLoaded extends Error {
  constructor(readonly column: string) {
    super(`segment column ${column} was read before it was loaded`);
  }
}

/** The five row columns every event has, with their element sizes. */
const ROW_COLUMNS: Record<string, number> = { time: 8, ingested: 8, lat: 8, lon: 8, type: 4 };

/** A decoded segment. Columns are typed-array views; strings are decoded on first use. */
export class Segment {
  readonly count: number;
  /** Size of the encoded segment. */
  readonly byteLength: number;
  readonly minTime: number;
  readonly maxTime: number;
  readonly bbox: Header["bbox"];
  readonly types: readonly string[];
  readonly supersedes: readonly string[];
  /** The rollup tables this segment carries (none in segments written before rollups existed). */
  readonly rollups: readonly RollupInfo[];
  private readonly header: Header;
  /** The columns by name (the header lists them: `ColumnsInOrder`, or `ColumnsByName` before version 3). */
  private readonly layout: Map<string, ColumnEntry>;
  /** The whole body, or undefined for a lazily read segment (whose columns are in `loadedColumns`). */
  private readonly body: Uint8Array | undefined;
  /** A lazy segment's file offset of its body, its source, and the columns fetched so far. */
  private readonly bodyStart: number;
  private readonly source: ColumnSource | undefined;
  private readonly loadedColumns = new Map<string, Uint8Array>();
  /**
   * A lazy segment's body bytes that came with its header in the first read (the smallest rollup tables,
   * by the layout), until the first `load` takes what it needs from them.
   */
  private headBody: Uint8Array | undefined;
  private readonly what: string;
  private readonly pathIndex: Map<string, number>;
  private readonly pathCache = new Map<string, PathColumn>();
  private readonly rowCache = new Map<string, Float64Array | Uint32Array>();
  private dictCache?: StringColumn;
  private maxIngestedCache?: number;
  private completeCache = false;
  /** Columns a lazy segment can load: every column of the header but its sum. */
  private readonly columnCount: number;
  private rollupColumnNames: string[][] | undefined;
  private idCache?: StringColumn;
  private dataCache?: StringColumn;
  /** The inflated start of a deflated data column that `dataTexts` keeps (counted in `heldBytes`). */
  private dataKept?: Uint8Array;
  private readonly rollupCache: (RollupTable | undefined)[] = [];

  /**
   * Checks the bytes before anything is trusted: magic, version, (from version 2) the CRC-32, the header's
   * shape and every column's bounds. Whatever is wrong is a `data_loss` TallyError naming `what`.
   */
  constructor(
    bytes: Uint8Array,
    what = "segment",
    private readonly inflate: Inflate = fflateInflate,
    lazy?: { size: number | undefined; source: ColumnSource },
  ) {
    this.what = what;
    if (bytes.byteLength < 12 || MAGIC.some((b, i) => bytes[i] !== b)) {
      throw new TallyError("data_loss", `${what}: not a Tally segment`);
    }
    const version = bytes[4]!;
    let end = bytes.byteLength;
    // Every version from 2 on ends with the CRC-32 of all bytes before it (the version byte included).
    const intact = () => {
      end = bytes.byteLength - TRAILER;
      const stored = end < 12 ? -1 : new DataView(bytes.buffer, bytes.byteOffset + end, 4).getUint32(0, true);
      return stored === crc32(bytes.subarray(0, Math.max(end, 0)));
    };
    if (version < 1 || version > SEGMENT_VERSION) {
      // An intact segment of a later version was written by a newer Tally sharing this store (a rolling
      // upgrade): not damage, so it must not be quarantined. A damaged version byte fails the checksum.
      // (A lazy read has only the head: it says "not lazily readable", and the caller reads it whole.)
      if (lazy) throw new NotLazy();
      if (version > SEGMENT_VERSION && intact()) {
        throw new TallyError(
          "failed_precondition",
          `${what}: written in segment format ${version} by a newer Tally; upgrade this server to read it`,
        );
      }
      throw new TallyError("data_loss", `${what}: unsupported segment version ${version}`);
    }
    if (lazy && version < 2) throw new NotLazy();
    if (!lazy && version >= 2 && !intact()) {
      throw new TallyError("data_loss", `${what}: checksum mismatch (the segment is truncated or corrupt)`);
    }
    // Typed-array views need aligned offsets; bytes read from a driver may sit anywhere in a pool.
    const aligned = bytes.byteOffset % 8 === 0 ? bytes.subarray(0, end) : bytes.slice(0, end);
    const view = new DataView(aligned.buffer, aligned.byteOffset, aligned.byteLength);
    const headerLength = view.getUint32(8, true);
    const bodyStart = align8(12 + headerLength);
    if (lazy) {
      // The head must hold the header and the header sum after it; a damaged length reads it whole.
      if (bodyStart + 4 > aligned.byteLength) throw new NotLazy();
    } else if (12 + headerLength > end) throw new TallyError("data_loss", `${what}: truncated header`);
    const json = aligned.subarray(12, 12 + headerLength);
    let bodyEnd: number;
    let sums: boolean;
    try {
      ({
        header: this.header,
        layout: this.layout,
        sums,
        columnCount: this.columnCount,
        bodyEnd,
      } = checkHeader(JSON.parse(decoder.decode(json)), version));
    } catch (cause) {
      if (lazy) throw new NotLazy();
      throw new TallyError("data_loss", `${what}: corrupt header`, { cause });
    }
    this.bodyStart = bodyStart;
    if (lazy) {
      // Only the header sum proves this header: without sums (or with a wrong one) the whole file is read
      // and its trailer checked, which also reports damage the way a whole read always has.
      const sumEntry = this.layout.get(HEADER_SUM);
      if (!sums || !sumEntry || sumEntry[1] !== 0 || view.getUint32(bodyStart, true) !== crc32(json))
        throw new NotLazy();
      this.body = undefined;
      this.headBody = aligned.subarray(bodyStart);
      this.source = lazy.source;
      // The length the header implies (columns, padded, then the trailer); a file of another length, or
      // one shorter than a column needs, is read whole and its trailer check reports it.
      this.byteLength = bodyStart + align8(bodyEnd) + TRAILER;
      if (lazy.size !== undefined && lazy.size !== this.byteLength) throw new NotLazy();
    } else {
      this.body = aligned.subarray(bodyStart);
      this.source = undefined;
      this.byteLength = bytes.byteLength;
      if (bodyEnd > this.body.byteLength) {
        const [name] = [...this.layout].find(([, [, o, l]]) => o + l > this.body!.byteLength)!;
        throw new TallyError("data_loss", `${what}: truncated column ${name}`);
      }
    }
    this.count = this.header.count;
    this.minTime = this.header.minTime;
    this.maxTime = this.header.maxTime;
    this.bbox = this.header.bbox;
    this.types = this.header.types;
    this.supersedes = this.header.supersedes ?? [];
    this.rollups = usableRollups(this.header, this.layout);
    this.pathIndex = new Map(this.header.paths.map((p, i) => [p, i]));
    if (!lazy) for (const name of Object.keys(ROW_COLUMNS)) this.rowColumn(name);
  }

  /**
   * A segment read column by column: `head` is the start of its file (at least the header and the header
   * sum), `size` the file's length when known. Undefined when the file cannot be read so (no per-column sums, an
   * older format, a head too short, or a damaged header): then read it whole.
   */
  static lazy(
    head: Uint8Array,
    size: number | undefined,
    source: ColumnSource,
    what = "segment",
    inflate: Inflate = fflateInflate,
  ): Segment | undefined {
    try {
      return new Segment(head, what, inflate, { size, source });
    } catch (error) {
      if (error instanceof NotLazy) return undefined;
      throw error;
    }
  }

  /** Whether every column is at hand (a whole read, or a lazy one that loaded them all). */
  get complete(): boolean {
    // Asked for every segment of every query: counted, not recomputed from the header's column names.
    this.completeCache ||= this.body !== undefined || this.loadedColumns.size === this.columnCount;
    return this.completeCache;
  }

  /**
   * How many leading bytes of a segment file `Segment.lazy` needs (the header and the header sum after
   * it), from its first 12 bytes.
   */
  static headLength(start: Uint8Array): number {
    if (start.byteLength < 12) return 12;
    return align8(12 + new DataView(start.buffer, start.byteOffset, 12).getUint32(8, true)) + 8;
  }

  /**
   * Whether every one of `names` this segment has is at hand (`load` would read nothing): a warm query asks
   * it of every segment, so without building a list or a promise.
   */
  holds(names: readonly string[]): boolean {
    if (this.body) return true;
    for (let i = 0; i < names.length; i++) if (this.lacks(names[i]!)) return false;
    return true;
  }

  /** Of `names`, the columns this segment has that are not loaded yet. */
  private missing(names: Iterable<string>): string[] {
    if (this.body) return [];
    const out: string[] = [];
    for (const name of names) if (this.lacks(name)) out.push(name);
    return out;
  }

  /** A lazy segment's column that a load would fetch: one it has (the header sum aside), not loaded yet. */
  private lacks(name: string): boolean {
    return name !== HEADER_SUM && !this.loadedColumns.has(name) && this.layout.has(name);
  }

  /**
   * Fetches (and checks against their sums) the named columns a lazy segment lacks; every column when
   * `names` is undefined. False when the file is gone. A column whose bytes fail their sum is data_loss.
   */
  async load(names?: Iterable<string>): Promise<boolean> {
    const source = this.source;
    if (!source) return true;
    const wanted = [...new Set(this.missing(names ?? this.layout.keys()))];
    if (wanted.length === 0) return true;
    // One read per run of adjacent columns (a path's three, a rollup table's, a dictionary's two).
    const cols = wanted.map((name) => {
      const [, offset, length] = this.layout.get(name)!;
      return { name, offset, length };
    });
    cols.sort((a, b) => a.offset - b.offset);
    const fetched: [string, Uint8Array][] = [];
    const take = (name: string, bytes: Uint8Array) => {
      if (crc32(bytes) !== this.layout.get(name)![3]) {
        throw new TallyError("data_loss", `${this.what}: checksum mismatch in column ${name}`);
      }
      fetched.push([name, bytes]);
    };
    /** Keeps the columns fetched from `from` on, and tells the source what they add. */
    const keep = (from: number) => {
      let added = 0;
      for (const [name, bytes] of fetched.slice(from)) {
        this.loadedColumns.set(name, bytes);
        added += bytes.byteLength;
      }
      if (added > 0) source.loaded?.(added);
    };
    // Columns the first read brought are taken from it (copied: the rest of it is let go now), and kept at
    // once, so that a load running beside this one finds them rather than fetching them again.
    const head = this.headBody;
    this.headBody = undefined;
    if (head) {
      let taken = 0;
      while (taken < cols.length && cols[taken]!.offset + cols[taken]!.length <= head.byteLength) {
        const c = cols[taken++]!;
        take(c.name, head.slice(c.offset, c.offset + c.length));
      }
      cols.splice(0, taken);
      keep(0);
    }
    const fromHead = fetched.length;
    const splitAt = source.splitAt ?? Number.POSITIVE_INFINITY;
    const runs: { from: number; to: number; cols: typeof cols }[] = [];
    for (const c of cols) {
      const last = runs[runs.length - 1];
      // Gaps of padding, or of a small column nobody asked for, cost less than another read; a long run is
      // split (at a column) where the source reads ranges side by side.
      if (last && c.offset - last.to <= 4096 && last.to - last.from < splitAt) {
        last.to = Math.max(last.to, c.offset + c.length);
        last.cols.push(c);
      } else runs.push({ from: c.offset, to: c.offset + c.length, cols: [c] });
    }
    if (runs.length > 0) {
      const parts = await source.read(runs.map((r) => [this.bodyStart + r.from, r.to - r.from] as const));
      if (!parts) return false;
      runs.forEach((run, i) => {
        // Column offsets are multiples of 8 from the body's start, so an 8-aligned run keeps them aligned.
        const part = parts[i]!.byteOffset % 8 === 0 ? parts[i]! : parts[i]!.slice();
        for (const c of run.cols) {
          const bytes = part.subarray(c.offset - run.from, c.offset - run.from + c.length);
          if (bytes.byteLength !== c.length) {
            throw new TallyError("data_loss", `${this.what}: checksum mismatch in column ${c.name}`);
          }
          take(c.name, bytes);
        }
      });
    }
    keep(fromHead);
    return true;
  }

  /** `load`, with damage reported through the source (which quarantines the segment). */
  async ensure(names?: Iterable<string>): Promise<boolean> {
    try {
      return await this.load(names);
    } catch (error) {
      if (error instanceof TallyError && error.code === "data_loss" && this.source?.damaged)
        throw await this.source.damaged(error);
      throw error;
    }
  }

  /** The columns of data path `path` and the dictionary its strings are coded in (none when absent). */
  pathColumns(path: string): string[] {
    const p = this.pathIndex.get(path);
    return p === undefined ? [] : [`p${p}.o`, `p${p}.t`, `p${p}.v`, "dict.o", "dict.b"];
  }

  /** The columns of rollup table k (its strings are coded in the dictionary, columns `dict.*`). */
  rollupColumns(k: number): string[] {
    this.rollupColumnNames ??= [];
    this.rollupColumnNames[k] ??= [...this.layout.keys()].filter((name) => name.startsWith(`r${k}.`));
    return [...this.rollupColumnNames[k]];
  }

  /**
   * Bytes held in memory: the whole file, or what a lazy segment has loaded, and what was derived from it
   * and is kept with it (`hold`).
   */
  get heldBytes(): number {
    const kept = (this.dataKept?.byteLength ?? 0) + this.derivedBytes;
    if (this.body) return this.byteLength + kept;
    let n = this.bodyStart + kept + (this.headBody?.byteLength ?? 0);
    for (const bytes of this.loadedColumns.values()) n += bytes.byteLength;
    return n;
  }

  /** Told when `heldBytes` grows other than by a column load (the store's cache re-counts the segment). */
  onGrow: (() => void) | undefined;

  private derivedBytes = 0;

  /**
   * Counts memory derived from this segment and kept as long as it is (an index, a rollup projection, a
   * type column: held weakly by the segment or its columns) in `heldBytes`: the store's cache, which drops
   * them with the segment, then bounds them too. Negative when such data is let go before the segment.
   */
  hold(bytes: number): void {
    this.derivedBytes += bytes;
    this.onGrow?.();
  }

  get time(): Float64Array {
    return this.rowColumn("time") as Float64Array;
  }
  get ingested(): Float64Array {
    return this.rowColumn("ingested") as Float64Array;
  }
  get lat(): Float64Array {
    return this.rowColumn("lat") as Float64Array;
  }
  get lon(): Float64Array {
    return this.rowColumn("lon") as Float64Array;
  }
  get typeCodes(): Uint32Array {
    return this.rowColumn("type") as Uint32Array;
  }

  private rowColumn(name: string): Float64Array | Uint32Array {
    let column = this.rowCache.get(name);
    if (column) return column;
    column = ROW_COLUMNS[name] === 4 ? this.column(name, Uint32Array) : this.column(name, Float64Array);
    if (column.length !== this.count) {
      throw new TallyError(
        "data_loss",
        `${this.what}: column lengths disagree with the event count ${this.count}`,
      );
    }
    this.rowCache.set(name, column);
    return column;
  }

  /** The latest ingestion instant of any event here: a snapshot at or after it sees the whole segment. */
  get maxIngested(): number {
    if (this.maxIngestedCache === undefined) {
      if (this.header.maxIngested !== undefined) this.maxIngestedCache = this.header.maxIngested;
      else {
        let max = Number.NEGATIVE_INFINITY;
        const ingested = this.ingested;
        for (let i = 0; i < this.count; i++) if (ingested[i]! > max) max = ingested[i]!;
        this.maxIngestedCache = max;
      }
    }
    return this.maxIngestedCache;
  }

  /** The values `path` reaches, or undefined when no event of this segment has that path. */
  path(path: string): PathColumn | undefined {
    let column = this.pathCache.get(path);
    if (column) return column;
    const p = this.pathIndex.get(path);
    if (p === undefined) return undefined;
    column = {
      offsets: this.column(`p${p}.o`, Uint32Array),
      tags: this.column(`p${p}.t`, Uint8Array),
      vals: this.column(`p${p}.v`, Float64Array),
    };
    this.pathCache.set(path, column);
    return column;
  }

  /** Rollup table k (an index into `rollups`), viewed over the segment's bytes. */
  rollup(k: number): RollupTable {
    let table = this.rollupCache[k];
    if (table) return table;
    const info = this.rollups[k];
    if (!info) throw new TallyError("data_loss", `segment: no rollup table ${k}`);
    let text: RollupTable["text"];
    let codeOf: RollupTable["codeOf"];
    if (this.layout.has(`r${k}.x.c`)) {
      const codes = this.column(`r${k}.x.c`, Uint32Array);
      const texts = this.strings(`r${k}.x`);
      if (texts.length !== codes.length)
        throw new TallyError("data_loss", `${this.what}: corrupt column r${k}.x`);
      text = (code) => {
        const lo = lowerBound(codes, code);
        if (codes[lo] !== code)
          throw new TallyError("data_loss", `${this.what}: rollup ${k} lacks text ${code}`);
        return texts.get(lo);
      };
      // A dashboard's refresh asks every day's table for the same few values: each answer is kept with
      // the (immutable) table, rather than searched for again, or the whole column indexed after a few.
      const known = new Map<string, number>();
      codeOf = (text) => {
        let code = known.get(text);
        if (code === undefined) {
          const i = texts.indexOf(text);
          code = i < 0 ? -1 : codes[i]!;
          if (known.size < 64) known.set(text, code);
        }
        return code;
      };
    }
    table = rollupTable({
      dims: info.dims,
      explode: info.explode || undefined,
      textUnique: info.explode ? info.textUnique : undefined,
      slotMs: info.slotMs,
      count: info.count,
      type: this.column(`r${k}.y`, Uint32Array),
      columns: info.dims.map((_, j) => ({
        offsets: this.column(`r${k}.${j}.o`, Uint32Array),
        tags: this.column(`r${k}.${j}.t`, Uint8Array),
        vals: this.column(`r${k}.${j}.v`, Float64Array),
      })),
      total: this.column(`r${k}.n`, Uint32Array),
      first: this.column(`r${k}.f`, Uint32Array),
      ...this.slotsOf(k, info),
      cum: this.column(`r${k}.c`, Uint32Array),
      text,
      codeOf,
    });
    this.rollupCache[k] = table;
    return table;
  }

  /** Table k's slot numbers: as stored, or (tables of `rollups`) from its slot starts, once. */
  private slotsOf(k: number, info: RollupInfo): Pick<RollupTable, "slotBase" | "slot"> {
    if (info.slotBase !== undefined) {
      const name = `r${k}.q`;
      const slot =
        this.layout.get(name)?.[0] === "u8" ? this.column(name, Uint8Array) : this.column(name, Uint32Array);
      return { slotBase: info.slotBase, slot };
    }
    const starts = this.column(`r${k}.s`, Float64Array);
    let base = Number.POSITIVE_INFINITY;
    let top = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < starts.length; i++) {
      base = Math.min(base, starts[i]!);
      top = Math.max(top, starts[i]!);
    }
    if (starts.length === 0) [base, top] = [0, 0];
    const slot = slotNumberArray(starts.length, (top - base) / info.slotMs);
    for (let i = 0; i < starts.length; i++) slot[i] = (starts[i]! - base) / info.slotMs;
    this.hold(slot.byteLength);
    return { slotBase: base, slot };
  }

  /** The segment's string dictionary (string values and object JSON texts). */
  get dict(): StringColumn {
    this.dictCache ??= this.strings("dict");
    return this.dictCache;
  }

  id(i: number): string {
    this.idCache ??= this.strings("id");
    return this.idCache.get(i);
  }

  /** The rows' CSV shapes (see Header.shapes) and each row's shape, when compaction stored them. */
  csvShapes(): { shapes: readonly string[][]; codes: Uint32Array } | undefined {
    const shapes = this.header.shapes;
    if (!shapes) return undefined;
    const codes = this.column("shape", Uint32Array);
    if (codes.length !== this.count) throw new TallyError("data_loss", "segment: corrupt column shape");
    return { shapes, codes };
  }

  /** Event i whole, as compaction rewrites it. */
  event(i: number): StoredEvent {
    return {
      id: this.id(i),
      type: this.types[this.typeCodes[i]!]!,
      time: this.time[i]!,
      data: this.data(i),
      dataJson: this.dataText(i),
      lat: this.lat[i]!,
      lon: this.lon[i]!,
      ingested: this.ingested[i]!,
    };
  }

  data(i: number): JsonObject {
    return JSON.parse(this.dataText(i)) as JsonObject;
  }

  /**
   * The data texts of a few rows (a ListEvents page). A compacted segment's data is one deflate stream of
   * megabytes: it is inflated only as far as the last row asked for (when the runtime can stop early),
   * and what was inflated is kept for the next page, counted in `heldBytes` (the cache sees it grow).
   */
  dataTexts(rows: readonly number[]): string[] {
    if (this.dataCache) return rows.map((r) => this.dataCache!.get(r));
    const offsets = this.column("data.o", Uint32Array);
    let bytes: Uint8Array = this.column("data.b", Uint8Array);
    if (this.layout.get("data.b")?.[0] === "deflate") {
      const size = offsets[offsets.length - 1]!;
      let atLeast = 0;
      for (const r of rows) atLeast = Math.max(atLeast, offsets[r + 1]!);
      if (this.dataKept && this.dataKept.byteLength >= atLeast) bytes = this.dataKept;
      else {
        try {
          bytes = this.inflate.prefix ? this.inflate.prefix(bytes, atLeast, size) : this.inflate(bytes, size);
          if (bytes.byteLength < atLeast || bytes.byteLength > size)
            throw new Error(`inflated to ${bytes.byteLength} bytes, not ${atLeast} to ${size}`);
        } catch (cause) {
          throw new TallyError("data_loss", "segment: corrupt column data", { cause });
        }
        this.dataKept = bytes;
        this.onGrow?.();
      }
    }
    return rows.map((r) => decoder.decode(bytes.subarray(offsets[r]!, offsets[r + 1]!)));
  }

  /** Event i's data as the JSON text it was stored as (JSON.stringify output: no whitespace). */
  dataText(i: number): string {
    if (!this.dataCache) {
      // What ListEvents pages inflated (dataTexts) serves when it is the whole column: not inflated twice.
      const offsets = this.column("data.o", Uint32Array);
      const kept = this.dataKept;
      this.dataCache =
        kept && kept.byteLength === offsets[offsets.length - 1]
          ? new StringColumn(offsets, kept, false)
          : this.strings("data", false);
    }
    return this.dataCache.get(i);
  }

  private column<T extends Float64Array | Uint32Array | Uint8Array>(
    name: string,
    Type: { new (buffer: ArrayBufferLike, byteOffset: number, length: number): T; BYTES_PER_ELEMENT: number },
  ): T {
    const entry = this.layout.get(name);
    if (!entry) throw new TallyError("data_loss", `${this.what}: missing column ${name}`);
    const [, offset, length] = entry;
    const body = this.body;
    if (!body) {
      const bytes = this.loadedColumns.get(name);
      if (!bytes) throw new ColumnNotLoaded(name);
      return new Type(bytes.buffer, bytes.byteOffset, length / Type.BYTES_PER_ELEMENT);
    }
    if (offset + length > body.byteLength)
      throw new TallyError("data_loss", `segment: truncated column ${name}`);
    return new Type(body.buffer, body.byteOffset + offset, length / Type.BYTES_PER_ELEMENT);
  }

  private strings(name: string, memo = true): StringColumn {
    const offsets = this.column(`${name}.o`, Uint32Array);
    let bytes: Uint8Array = this.column(`${name}.b`, Uint8Array);
    if (this.layout.get(`${name}.b`)?.[0] === "deflate") {
      try {
        const size = offsets[offsets.length - 1]!;
        bytes = this.inflate(bytes, size);
        if (bytes.byteLength !== size) throw new Error(`inflated to ${bytes.byteLength} bytes, not ${size}`);
      } catch (cause) {
        throw new TallyError("data_loss", `segment: corrupt column ${name}`, { cause });
      }
    }
    return new StringColumn(offsets, bytes, memo);
  }
}

/** How many strings of a column (plus 1 in 64 of them) are decoded one by one before it is decoded whole. */
const DECODE_WHOLE_AFTER = 32;

/** A head that cannot be read column by column (see Segment.lazy). */
class NotLazy extends Error {}

/** Strings stored as UTF-8 bytes plus offsets; an all-ASCII blob is decoded once, not per string. */
export class StringColumn {
  readonly length: number;
  private whole?: string;
  /** Whether `whole` was tried: only once the column is read often enough to pay for decoding it all. */
  private wholeTried = false;
  private gets = 0;
  /** Decoded strings, kept when `memo` (dictionaries and ids are read again and again; data is not). */
  private cache: (string | undefined)[] | undefined;
  private index?: Map<string, number>;
  private lookups = 0;
  constructor(
    /** Where string i's UTF-8 bytes start (offsets[i]) and end (offsets[i + 1]) in `bytes`. */
    readonly offsets: Uint32Array,
    readonly bytes: Uint8Array,
    private readonly memo = true,
  ) {
    this.length = offsets.length - 1;
  }

  get(i: number): string {
    let s = this.cache?.[i];
    if (s === undefined) {
      // A few strings (a dictionary's group values, when a unique count maps its codes by their bytes)
      // are decoded one by one; a column read more is decoded whole.
      if (!this.wholeTried && ++this.gets > DECODE_WHOLE_AFTER + (this.length >>> 6)) this.decodeWhole();
      const from = this.offsets[i]!;
      const to = this.offsets[i + 1]!;
      s =
        this.whole !== undefined ? this.whole.slice(from, to) : decoder.decode(this.bytes.subarray(from, to));
      if (this.memo) {
        this.cache ??= new Array(this.length);
        this.cache[i] = s;
      }
    }
    return s;
  }

  private decodeWhole(): void {
    this.wholeTried = true;
    // Valid UTF-8 decodes to as many UTF-16 units as it has bytes only when every byte is ASCII; then
    // byte offsets are string offsets and one native decode serves every row.
    if (this.bytes.byteLength > 0) {
      const whole = decoder.decode(this.bytes);
      if (whole.length === this.bytes.byteLength) this.whole = whole;
    }
  }

  /**
   * The code of `value`, or -1 when the dictionary lacks it. The first few look-ups compare UTF-8 bytes
   * without decoding any string (a filter needs one or two codes per segment); a column asked often gets
   * a map.
   */
  indexOf(value: string): number {
    if (this.index) return this.index.get(value) ?? -1;
    if (++this.lookups > 8) {
      this.index = new Map();
      for (let i = 0; i < this.length; i++) this.index.set(this.get(i), i);
      return this.index.get(value) ?? -1;
    }
    const needle = encoder.encode(value);
    const { offsets, bytes } = this;
    outer: for (let i = 0; i < this.length; i++) {
      const from = offsets[i]!;
      if (offsets[i + 1]! - from !== needle.length) continue;
      for (let k = 0; k < needle.length; k++) if (bytes[from + k] !== needle[k]) continue outer;
      return i;
    }
    return -1;
  }
}
