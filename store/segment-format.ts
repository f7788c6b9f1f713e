/**
 * The segment: one immutable, columnar file of events (docs/storage.md describes the bytes).
 *
 *   "TSEG" | version u8 | 3 zero bytes | header length u32 LE | header JSON | padding to 8 | columns…
 *   | CRC-32 u32 LE of every byte before it (version 2; version 1 segments have none and are still read)
 *
 * Every column starts 8-byte aligned so it can be viewed as a typed array without copying. Events are
 * sorted by (time, id). Data is kept twice, on purpose: as per-path value columns that queries scan, and as
 * each event's original JSON, which only ListEvents reads.
 */
import { deflateSync } from "fflate";
import { fflateInflate, type Inflate } from "./codec.ts";
import { crc32 } from "./crc32.ts";
import { csvPaths } from "./csv-flatten.ts";
import { TallyError } from "./errors.ts";
import { canonicalJson, type JsonObject, type JsonValue, type StoredEvent } from "./json.ts";
import { buildRollups, type RollupTable } from "./rollup.ts";

/** The version written. Version 1 (no checksum) is still read. */
export const SEGMENT_VERSION = 2;
/** Bytes of the version-2 trailer: the CRC-32 of everything before it. */
const TRAILER = 4;
const MAGIC = [0x54, 0x53, 0x45, 0x47]; // "TSEG"

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

type ColumnKind = "f64" | "u32" | "u8" | "bytes" | "deflate";
interface Header {
  count: number;
  minTime: number;
  maxTime: number;
  /** Bounding box of located events: [south, west, north, east], or null when none has a location. */
  bbox: [number, number, number, number] | null;
  types: string[];
  paths: string[];
  cols: Record<string, [ColumnKind, number, number]>;
  /** Names of the segments (same partition) this one replaces; absent on segments written by RecordEvents. */
  supersedes?: string[];
  /**
   * The distinct CSV shapes of the rows (csv-flatten.ts: each row's CSV columns in the order of its data
   * text); column `shape` holds each row's index here. Written by compaction, so that an export knows its
   * header without reading the data; absent on segments written by RecordEvents.
   */
  shapes?: string[][];
  /** The rollup tables (rollup.ts); table k's columns are `r<k>.*`. Absent in segments written before them. */
  rollups?: RollupInfo[];
}

export interface RollupInfo {
  dims: readonly string[];
  explode?: string;
  textUnique?: boolean;
  slotMs: number;
  count: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: false });

/**
 * Encodes events (any order) into segment bytes. `ingestedAt` is when the write happened (ms), for events
 * that do not carry their own. `supersedes` names the segments a compacted segment replaces. `compress`
 * deflates the per-event JSON column: compaction does, so ingest stays fast and what is kept is small.
 */
export function encodeSegment(
  input: readonly StoredEvent[],
  ingestedAt: number,
  supersedes: string[] = [],
  compress = false,
): Uint8Array {
  const events = [...input].sort((a, b) => a.time - b.time || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const n = events.length;
  const time = new Float64Array(n);
  const ingested = new Float64Array(n);
  const lat = new Float64Array(n);
  const lon = new Float64Array(n);
  const typeCodes = new Uint32Array(n);
  const types = new Dictionary();
  const strings = new Dictionary();
  // Path columns in order of first appearance, and as a tree: a value's column is found by its key in the
  // parent's children (property names hash once), not by building and hashing its dotted path.
  const paths = new Map<string, PathBuilder>();
  const objectCodes = new Map<string, number>();
  const top = new Map<string, PathBuilder>();
  const childOf = (children: Map<string, PathBuilder>, parent: string | undefined, key: string) => {
    let column = children.get(key);
    if (!column) {
      const path = parent === undefined ? key : `${parent}.${key}`;
      // Top-level "a.b" and a → b are one path, as queries name them.
      column = paths.get(path);
      if (!column) {
        column = { path, rows: [], tags: [], vals: [], children: undefined };
        paths.set(path, column);
      }
      children.set(key, column);
    }
    return column;
  };
  // What flatten.ts defines: arrays reach their elements, objects are values and have paths below them.
  const walk = (value: JsonValue, column: PathBuilder, row: number): void => {
    if (Array.isArray(value)) {
      for (const element of value) walk(element, column, row);
      return;
    }
    column.rows.push(row);
    if (value === null) {
      column.tags.push(TAG_NULL);
      column.vals.push(0);
      return;
    }
    switch (typeof value) {
      case "boolean":
        column.tags.push(value ? TAG_TRUE : TAG_FALSE);
        column.vals.push(0);
        return;
      case "number":
        column.tags.push(TAG_NUMBER);
        column.vals.push(value);
        return;
      case "string":
        column.tags.push(TAG_STRING);
        column.vals.push(strings.code(value));
        return;
      default: {
        column.tags.push(TAG_OBJECT);
        // Objects written alike (same keys in the same order) share a canonical text: key order is
        // sorted only once per spelling.
        const raw = JSON.stringify(value);
        let code = objectCodes.get(raw);
        if (code === undefined) {
          code = strings.code(canonicalJson(value));
          objectCodes.set(raw, code);
        }
        column.vals.push(code);
        column.children ??= new Map();
        for (const key of Object.keys(value))
          walk(value[key] as JsonValue, childOf(column.children, column.path, key), row);
      }
    }
  };
  let bbox: Header["bbox"] = null;

  events.forEach((event, i) => {
    time[i] = event.time;
    ingested[i] = event.ingested ?? ingestedAt;
    lat[i] = event.lat;
    lon[i] = event.lon;
    typeCodes[i] = types.code(event.type);
    if (!Number.isNaN(event.lat)) {
      bbox = bbox
        ? [
            Math.min(bbox[0], event.lat),
            Math.min(bbox[1], event.lon),
            Math.max(bbox[2], event.lat),
            Math.max(bbox[3], event.lon),
          ]
        : [event.lat, event.lon, event.lat, event.lon];
    }
    const data = event.data;
    for (const key of Object.keys(data)) walk(data[key] as JsonValue, childOf(top, undefined, key), i);
  });

  const writer = new ColumnWriter();
  writer.add("time", "f64", time);
  writer.add("ingested", "f64", ingested);
  writer.add("lat", "f64", lat);
  writer.add("lon", "f64", lon);
  writer.add("type", "u32", typeCodes);
  writer.strings("dict", strings.values);
  writer.strings(
    "id",
    events.map((e) => e.id),
  );
  // The original JSON is the largest column and only ListEvents and exports read it: deflate pays there,
  // once compaction has merged segments (fresh per-batch segments stay raw, for ingest speed).
  const texts = events.map((e) => e.dataJson ?? JSON.stringify(e.data));
  writer.strings("data", texts, compress);
  const shapes = compress ? csvShapes(texts) : undefined;
  if (shapes) writer.add("shape", "u32", shapes.codes);
  const pathNames = [...paths.keys()];
  const pathColumns = new Map<string, PathColumn>();
  pathNames.forEach((path, p) => {
    const column = paths.get(path)!;
    const offsets = new Uint32Array(n + 1);
    for (const row of column.rows) offsets[row + 1]!++;
    for (let i = 0; i < n; i++) offsets[i + 1]! += offsets[i]!;
    const encoded = { offsets, tags: Uint8Array.from(column.tags), vals: Float64Array.from(column.vals) };
    pathColumns.set(path, encoded);
    writer.add(`p${p}.o`, "u32", offsets);
    writer.add(`p${p}.t`, "u8", encoded.tags);
    writer.add(`p${p}.v`, "f64", encoded.vals);
  });
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
    writer.add(`r${k}.s`, "f64", table.slot);
    writer.add(`r${k}.c`, "u32", table.cum);
    table.columns.forEach((column, j) => {
      writer.add(`r${k}.${j}.o`, "u32", column.offsets);
      writer.add(`r${k}.${j}.t`, "u8", column.tags);
      writer.add(`r${k}.${j}.v`, "f64", column.vals);
    });
  });

  const header: Header = {
    count: n,
    minTime: n ? time[0]! : 0,
    maxTime: n ? time[n - 1]! : 0,
    bbox,
    types: types.values,
    paths: pathNames,
    cols: writer.index,
    ...(supersedes.length > 0 ? { supersedes } : {}),
    ...(shapes ? { shapes: shapes.shapes } : {}),
    ...(rollups.length > 0
      ? {
          rollups: rollups.map((t) => ({
            dims: t.dims,
            slotMs: t.slotMs,
            count: t.count,
            ...(t.explode ? { explode: t.explode, textUnique: t.textUnique } : {}),
          })),
        }
      : {}),
  };
  return writer.finish(header);
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

interface PathBuilder {
  path: string;
  rows: number[];
  tags: number[];
  vals: number[];
  children: Map<string, PathBuilder> | undefined;
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
  readonly index: Header["cols"] = {};
  private readonly chunks: Uint8Array[] = [];
  private size = 0;

  add(name: string, kind: ColumnKind, values: ArrayBufferView): void {
    const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
    this.index[name] = [kind, this.size, bytes.byteLength];
    this.chunks.push(bytes);
    this.size += bytes.byteLength;
    const pad = (8 - (this.size % 8)) % 8;
    if (pad) {
      this.chunks.push(new Uint8Array(pad));
      this.size += pad;
    }
  }

  strings(name: string, values: readonly string[], compress = false): void {
    // One buffer for all, filled with encodeInto: a Uint8Array per string costs more than the encoding.
    let blob = new Uint8Array(64 + values.reduce((n, v) => n + v.length, 0) * 3);
    const offsets = new Uint32Array(values.length + 1);
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
    const bytes = blob.subarray(0, at);
    this.add(`${name}.o`, "u32", offsets);
    if (compress) this.add(`${name}.b`, "deflate", deflateSync(bytes, { level: 1 }));
    else this.add(`${name}.b`, "bytes", bytes);
  }

  finish(header: Header): Uint8Array {
    const json = encoder.encode(JSON.stringify(header));
    const start = align8(12 + json.byteLength);
    const out = new Uint8Array(start + this.size + TRAILER);
    out.set(MAGIC, 0);
    out[4] = SEGMENT_VERSION;
    new DataView(out.buffer).setUint32(8, json.byteLength, true);
    out.set(json, 12);
    let at = start;
    for (const chunk of this.chunks) {
      out.set(chunk, at);
      at += chunk.byteLength;
    }
    new DataView(out.buffer).setUint32(at, crc32(out.subarray(0, at)), true);
    return out;
  }
}

/** The header's shape, so that a corrupt one fails here, as data_loss, not later as a TypeError. */
function checkHeader(h: unknown): Header {
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
    typeof header.cols === "object" &&
    header.cols !== null &&
    Object.values(header.cols).every(
      (c) =>
        Array.isArray(c) &&
        c.length === 3 &&
        ["f64", "u32", "u8", "bytes", "deflate"].includes(c[0]) &&
        Number.isSafeInteger(c[1]) &&
        c[1] >= 0 &&
        c[1] % 8 === 0 &&
        Number.isSafeInteger(c[2]) &&
        c[2] >= 0,
    ) &&
    (header.supersedes === undefined ||
      (Array.isArray(header.supersedes) && header.supersedes.every((s) => typeof s === "string")));
  if (!ok) throw new Error("header fields have the wrong shape");
  return header;
}

function align8(n: number): number {
  return n + ((8 - (n % 8)) % 8);
}

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
  readonly time: Float64Array;
  readonly ingested: Float64Array;
  readonly lat: Float64Array;
  readonly lon: Float64Array;
  readonly typeCodes: Uint32Array;
  private readonly header: Header;
  private readonly body: Uint8Array;
  private readonly pathIndex: Map<string, number>;
  private readonly pathCache = new Map<string, PathColumn>();
  private dictCache?: StringColumn;
  private maxIngestedCache?: number;
  private idCache?: StringColumn;
  private dataCache?: StringColumn;
  private readonly rollupCache: (RollupTable | undefined)[] = [];

  /**
   * Checks the bytes before anything is trusted: magic, version, (version 2) the CRC-32, the header's
   * shape and every column's bounds. Whatever is wrong is a `data_loss` TallyError naming `what`.
   */
  constructor(
    bytes: Uint8Array,
    what = "segment",
    private readonly inflate: Inflate = fflateInflate,
  ) {
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
    if (version !== 1 && version !== 2) {
      // An intact segment of a later version was written by a newer Tally sharing this store (a rolling
      // upgrade): not damage, so it must not be quarantined. A damaged version byte fails the checksum.
      if (version > 2 && intact()) {
        throw new TallyError(
          "failed_precondition",
          `${what}: written in segment format ${version} by a newer Tally; upgrade this server to read it`,
        );
      }
      throw new TallyError("data_loss", `${what}: unsupported segment version ${version}`);
    }
    if (version === 2 && !intact()) {
      throw new TallyError("data_loss", `${what}: checksum mismatch (the segment is truncated or corrupt)`);
    }
    // Typed-array views need aligned offsets; bytes read from a driver may sit anywhere in a pool.
    const aligned = bytes.byteOffset % 8 === 0 ? bytes.subarray(0, end) : bytes.slice(0, end);
    const view = new DataView(aligned.buffer, aligned.byteOffset, aligned.byteLength);
    const headerLength = view.getUint32(8, true);
    if (12 + headerLength > end) throw new TallyError("data_loss", `${what}: truncated header`);
    try {
      this.header = checkHeader(JSON.parse(decoder.decode(aligned.subarray(12, 12 + headerLength))));
    } catch (cause) {
      throw new TallyError("data_loss", `${what}: corrupt header`, { cause });
    }
    this.body = aligned.subarray(align8(12 + headerLength));
    this.count = this.header.count;
    this.byteLength = bytes.byteLength;
    this.minTime = this.header.minTime;
    this.maxTime = this.header.maxTime;
    this.bbox = this.header.bbox;
    this.types = this.header.types;
    this.supersedes = this.header.supersedes ?? [];
    this.rollups = this.header.rollups ?? [];
    this.pathIndex = new Map(this.header.paths.map((p, i) => [p, i]));
    this.time = this.column("time", Float64Array);
    this.ingested = this.column("ingested", Float64Array);
    this.lat = this.column("lat", Float64Array);
    this.lon = this.column("lon", Float64Array);
    this.typeCodes = this.column("type", Uint32Array);
    for (const [name, [, offset, length]] of Object.entries(this.header.cols)) {
      if (offset + length > this.body.byteLength) {
        throw new TallyError("data_loss", `${what}: truncated column ${name}`);
      }
    }
    const n = this.count;
    if ([this.time, this.ingested, this.lat, this.lon, this.typeCodes].some((c) => c.length !== n)) {
      throw new TallyError("data_loss", `${what}: column lengths disagree with the event count ${n}`);
    }
  }

  /** The latest ingestion instant of any event here: a snapshot at or after it sees the whole segment. */
  get maxIngested(): number {
    if (this.maxIngestedCache === undefined) {
      let max = Number.NEGATIVE_INFINITY;
      for (let i = 0; i < this.count; i++) if (this.ingested[i]! > max) max = this.ingested[i]!;
      this.maxIngestedCache = max;
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
    table = {
      dims: info.dims,
      ...(info.explode ? { explode: info.explode, textUnique: info.textUnique } : {}),
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
      slot: this.column(`r${k}.s`, Float64Array),
      cum: this.column(`r${k}.c`, Uint32Array),
    };
    this.rollupCache[k] = table;
    return table;
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

  /** Event i's data as the JSON text it was stored as (JSON.stringify output: no whitespace). */
  dataText(i: number): string {
    this.dataCache ??= this.strings("data", false);
    return this.dataCache.get(i);
  }

  private column<T extends Float64Array | Uint32Array | Uint8Array>(
    name: string,
    Type: { new (buffer: ArrayBufferLike, byteOffset: number, length: number): T; BYTES_PER_ELEMENT: number },
  ): T {
    const entry = this.header.cols[name];
    if (!entry) throw new TallyError("data_loss", `segment: missing column ${name}`);
    const [, offset, length] = entry;
    if (offset + length > this.body.byteLength)
      throw new TallyError("data_loss", `segment: truncated column ${name}`);
    return new Type(this.body.buffer, this.body.byteOffset + offset, length / Type.BYTES_PER_ELEMENT);
  }

  private strings(name: string, memo = true): StringColumn {
    const offsets = this.column(`${name}.o`, Uint32Array);
    let bytes: Uint8Array = this.column(`${name}.b`, Uint8Array);
    if (this.header.cols[`${name}.b`]?.[0] === "deflate") {
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

/** Strings stored as UTF-8 bytes plus offsets; an all-ASCII blob is decoded once, not per string. */
export class StringColumn {
  readonly length: number;
  private readonly whole?: string;
  /** Decoded strings, kept when `memo` (dictionaries and ids are read again and again; data is not). */
  private readonly cache: (string | undefined)[] | undefined;
  private index?: Map<string, number>;
  private lookups = 0;
  constructor(
    private readonly offsets: Uint32Array,
    private readonly bytes: Uint8Array,
    memo = true,
  ) {
    this.length = offsets.length - 1;
    this.cache = memo ? new Array(this.length) : undefined;
    // Valid UTF-8 decodes to as many UTF-16 units as it has bytes only when every byte is ASCII; then
    // byte offsets are string offsets and one native decode serves every row.
    if (bytes.byteLength > 0) {
      const whole = decoder.decode(bytes);
      if (whole.length === bytes.byteLength) this.whole = whole;
    }
  }

  get(i: number): string {
    let s = this.cache?.[i];
    if (s === undefined) {
      const from = this.offsets[i]!;
      const to = this.offsets[i + 1]!;
      s =
        this.whole !== undefined ? this.whole.slice(from, to) : decoder.decode(this.bytes.subarray(from, to));
      if (this.cache) this.cache[i] = s;
    }
    return s;
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
