/**
 * The segment encoder as it was before ingest was made faster (segment-encode.ts `encodeSegment`), kept
 * unchanged as the reference that encoder is proven byte-for-byte equal to on fuzzed events
 * (segment-encode.test.ts). Not used by the store.
 */
import { deflateSync } from "fflate";
import { crc32 } from "../store/crc32.ts";
import { csvPaths } from "../store/csv-flatten.ts";
import { canonicalJson, type JsonValue, type StoredEvent } from "../store/json.ts";
import { buildRollups } from "../store/rollup.ts";
import { slotKind } from "../store/segment-encode.ts";
import {
  type PathColumn,
  type RollupInfo,
  SEGMENT_VERSION,
  TAG_FALSE,
  TAG_NULL,
  TAG_NUMBER,
  TAG_OBJECT,
  TAG_STRING,
  TAG_TRUE,
} from "../store/segment-format.ts";

const TRAILER = 4;
const MAGIC = [0x54, 0x53, 0x45, 0x47];
const HEADER_SUM = "hsum";
type ColumnKind = "f64" | "u32" | "u8" | "bytes" | "deflate";
interface Header {
  count: number;
  minTime: number;
  maxTime: number;
  bbox: [number, number, number, number] | null;
  types: string[];
  paths: string[];
  supersedes?: string[];
  shapes?: string[][];
  rollupTables?: RollupInfo[];
  rollups?: RollupInfo[];
  maxIngested?: number;
}

function align8(n: number): number {
  return n + ((8 - (n % 8)) % 8);
}

const encoder = new TextEncoder();

/**
 * Encodes events (any order) into segment bytes. `ingestedAt` is when the write happened (ms), for events
 * that do not carry their own. `supersedes` names the segments a compacted segment replaces. `compress`
 * deflates the per-event JSON column: compaction does, so ingest stays fast and what is kept is small.
 */
export function referenceEncodeSegment(
  input: readonly StoredEvent[],
  ingestedAt: number,
  supersedes: string[] = [],
  compress = false,
  /**
   * "starts": rollup tables as first written (header `rollups`, each slot entry's start as f64 `r<k>.s`),
   * so that tests can make segments of that format, which readers still read.
   */
  rollupSlots: "numbers" | "starts" = "numbers",
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
  let maxIngested = Number.NEGATIVE_INFINITY;

  events.forEach((event, i) => {
    time[i] = event.time;
    ingested[i] = event.ingested ?? ingestedAt;
    if (ingested[i]! > maxIngested) maxIngested = ingested[i]!;
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

  // Compacted segments are the large ones worth reading column by column: they carry per-column sums.
  const writer = new ColumnWriter(compress);
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
    if (rollupSlots === "starts")
      writer.add(
        `r${k}.s`,
        "f64",
        Float64Array.from(table.slot, (q) => table.slotBase + q * table.slotMs),
      );
    else writer.add(`r${k}.q`, slotKind(table.slot), table.slot);
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
          [rollupSlots === "starts" ? "rollups" : "rollupTables"]: rollups.map((t) => ({
            dims: t.dims,
            slotMs: t.slotMs,
            ...(rollupSlots === "numbers" ? { slotBase: t.slotBase } : {}),
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
    // The layout: the header sum, then each rollup table's columns (tables by their padded bytes, then by
    // number), then the other columns in the order they were added; each column padded to 8 bytes.
    const tableOf = (name: string) => /^r(\d+)\./.exec(name)?.[1];
    const tableBytes = new Map<string, number>();
    for (const c of this.columns) {
      const k = tableOf(c.name);
      if (k !== undefined) tableBytes.set(k, (tableBytes.get(k) ?? 0) + align8(c.bytes.byteLength));
    }
    const tables = [...tableBytes.keys()].sort(
      (a, b) => tableBytes.get(a)! - tableBytes.get(b)! || Number(a) - Number(b),
    );
    const ordered = [
      ...this.columns.filter((c) => c.name === HEADER_SUM),
      ...tables.flatMap((k) => this.columns.filter((c) => tableOf(c.name) === k)),
      ...this.columns.filter((c) => c.name !== HEADER_SUM && tableOf(c.name) === undefined),
    ];
    // The header lists them in that order (version 3): names, kinds, lengths, and CRC-32s (0 for hsum).
    const listed = {
      columns: ordered.map((c) => c.name).join(" "),
      kinds: ordered.map((c) => c.kind).join(" "),
      lengths: ordered.map((c) => c.bytes.byteLength),
      ...(this.sums ? { sums: ordered.map((c) => (c.name === HEADER_SUM ? 0 : crc32(c.bytes))) } : {}),
    };
    const offsets: number[] = [];
    let size = 0;
    for (const c of ordered) {
      offsets.push(size);
      size = align8(size + c.bytes.byteLength);
    }
    const json = encoder.encode(JSON.stringify({ ...header, ...listed }));
    const start = align8(12 + json.byteLength);
    const out = new Uint8Array(start + size + TRAILER);
    out.set(MAGIC, 0);
    out[4] = SEGMENT_VERSION;
    new DataView(out.buffer).setUint32(8, json.byteLength, true);
    out.set(json, 12);
    ordered.forEach((c, i) => {
      out.set(c.bytes, start + offsets[i]!);
    });
    if (this.sums) new DataView(out.buffer).setUint32(start, crc32(json), true);
    new DataView(out.buffer).setUint32(start + size, crc32(out.subarray(0, start + size)), true);
    return out;
  }
}
