/**
 * Reading segments (segment-format.ts holds the layout): a whole file checked by its CRC-32, or lazily,
 * the header first and then only the columns a query uses, each checked by its own sum; typed-array views
 * over the bytes, strings decoded on first use, rollup tables read as they are stored.
 */
import { fflateInflate, type Inflate } from "./codec.ts";
import { crc32 } from "./crc32.ts";
import { lowerBound } from "./dedup.ts";
import { TallyError } from "./errors.ts";
import type { JsonObject, StoredEvent } from "./json.ts";
import { type RollupTable, rollupTable, slotNumberArray } from "./rollup.ts";
import {
  align8,
  type ColumnEntry,
  checkHeader,
  HEADER_SUM,
  type Header,
  MAGIC,
  type PathColumn,
  type RollupInfo,
  SEGMENT_VERSION,
  TRAILER,
  usableRollups,
} from "./segment-format.ts";
import { StringColumn } from "./string-column.ts";

// ignoreBOM: a text that starts with U+FEFF keeps it (string-column.ts says why).
const decoder = new TextDecoder("utf-8", { ignoreBOM: true });

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

  /** Scans that have met this (cached, lazily read) segment, rows or rollup table: see `firstScan` in scan.ts. */
  scans = 0;

  /**
   * A copy of this lazily read segment with nothing loaded beyond its header, for a scan that reads its
   * rows for the first time: what it loads is the copy's, let go with it, outside the store's cache. The
   * copy shares the header, the layout and the source; every column and what is derived from them is its
   * own, so a query using the copy and another using this segment never see each other's loads.
   */
  transient(): Segment {
    const copy = Object.assign(Object.create(Segment.prototype), this) as Segment;
    const own = copy as unknown as {
      loadedColumns: Map<string, Uint8Array>;
      pathCache: Map<string, PathColumn>;
      rowCache: Map<string, Float64Array | Uint32Array>;
      rollupCache: (RollupTable | undefined)[];
      dictCache?: StringColumn;
      idCache?: StringColumn;
      dataCache?: StringColumn;
      dataKept?: Uint8Array;
      completeCache: boolean;
      derivedBytes: number;
    };
    own.loadedColumns = new Map();
    own.pathCache = new Map();
    own.rowCache = new Map();
    own.rollupCache = [];
    own.dictCache = undefined;
    own.idCache = undefined;
    own.dataCache = undefined;
    own.dataKept = undefined;
    own.completeCache = false;
    own.derivedBytes = 0;
    copy.onGrow = undefined;
    copy.scans = 0;
    return copy;
  }

  /**
   * Takes the columns a `transient` copy of this segment loaded and this one lacks (a scan that stopped
   * before the partition it had fetched ahead: the query's next step scans it here, without reading again).
   */
  adopt(copy: Segment): void {
    if (this.body) return;
    let added = false;
    for (const [name, bytes] of copy.loadedColumns) {
      if (this.loadedColumns.has(name)) continue;
      this.loadedColumns.set(name, bytes);
      added = true;
    }
    if (added) this.onGrow?.();
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

/** A head that cannot be read column by column (see Segment.lazy). */
class NotLazy extends Error {}
