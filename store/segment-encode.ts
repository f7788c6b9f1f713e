/**
 * Writing segments (segment-format.ts holds the layout): events sorted by (time, id), their rows and
 * per-path value columns, the rollup tables, and the header, laid out so a lazy read of the head also gets
 * the small tables.
 */
import { deflateSync } from "fflate";
import { crc32 } from "./crc32.ts";
import { csvPaths } from "./csv-flatten.ts";
import { canonicalJsonOf, type JsonValue, type StoredEvent } from "./json.ts";
import { type PreparedData, TAG_VISIT } from "./prepared-data.ts";
import { buildRollups, type SlotNumbers } from "./rollup.ts";
import {
  align8,
  type ColumnKind,
  type ColumnsInOrder,
  HEADER_SUM,
  type Header,
  MAGIC,
  type PathColumn,
  SEGMENT_VERSION,
  TAG_FALSE,
  TAG_NULL,
  TAG_NUMBER,
  TAG_OBJECT,
  TAG_STRING,
  TAG_TRUE,
  TRAILER,
} from "./segment-format.ts";

const encoder = new TextEncoder();
// ignoreBOM: a text that starts with U+FEFF keeps it (string-column.ts says why).
const decoder = new TextDecoder("utf-8", { ignoreBOM: true });

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
