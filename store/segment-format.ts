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
import { ROLLUP_SLOT_MS } from "./rollup.ts";

/**
 * The version written. Version 2 (columns listed by name, `ColumnsByName`) and version 1 (no checksum)
 * are still read.
 */
export const SEGMENT_VERSION = 3;
/** Bytes of the trailer (from version 2): the CRC-32 of everything before it. */
export const TRAILER = 4;
export const MAGIC = [0x54, 0x53, 0x45, 0x47]; // "TSEG"
/** The column holding the CRC-32 of the header JSON, in segments with per-column sums. */
export const HEADER_SUM = "hsum";

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

export type ColumnKind = "f64" | "u32" | "u8" | "bytes" | "deflate";
export interface Header {
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
export interface ColumnsInOrder {
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
export type ColumnEntry = readonly [
  kind: ColumnKind,
  offset: number,
  length: number,
  sum: number | undefined,
];

export interface RollupInfo {
  dims: readonly string[];
  explode?: string;
  textUnique?: boolean;
  slotMs: number;
  /** In `rollupTables`: where slot number 0 starts (ms). */
  slotBase?: number;
  count: number;
}

/** Kinds a column may have (header `kinds`; `cols` before version 3). */
const COLUMN_KINDS = new Set(["f64", "u32", "u8", "bytes", "deflate"]);

/**
 * The header, checked for the shape readers rely on (so that a corrupt one fails here, as data_loss, not
 * later as a TypeError), with its columns by name, whether they carry sums, their count (the header sum
 * aside) and where the last one ends. One pass over the columns: a cold query checks a header per segment.
 */
export function checkHeader(
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
export function usableRollups(
  header: Header,
  layout: ReadonlyMap<string, ColumnEntry>,
): readonly RollupInfo[] {
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

export function align8(n: number): number {
  return n + ((8 - (n % 8)) % 8);
}
