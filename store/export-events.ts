/**
 * The events export: `id,type,time,lat,lon`, then one column per data path — the union over the exported
 * events, or the requested columns. Two passes over the matches: the header needs every column before the
 * first row. Compacted segments carry each row's CSV shape (csv-flatten.ts), so the first pass reads no
 * data at all for them and the second fills each row by position; rows of fresh segments are flattened
 * by path. Streams one partition (UTC day) at a time, so memory holds one day's matches, never the answer.
 */
import { csvCell, csvRow } from "./csv.ts";
import { csvPaths, flattenCells, flattenJsonText } from "./csv-flatten.ts";
import { TallyError } from "./errors.ts";
import type { EventStore } from "./event-store.ts";
import { dayStart } from "./keys.ts";
import { type Candidate, candidatesAfter, type EventCursor, streamRows } from "./list-events.ts";
import type { ListSpec } from "./query-spec.ts";
import { type Match, scan } from "./scan.ts";
import type { Segment } from "./segment.ts";

export async function* eventRows(
  store: EventStore,
  spec: ListSpec,
  requested: readonly string[],
): AsyncGenerator<string> {
  const columns = requested.length > 0 ? [...requested] : await unionOfColumns(store, spec);
  yield eventsHeader(columns);
  const rows = new RowWriter(columns);
  for await (const candidates of streamRows(store, spec)) {
    let chunk = "";
    for (const c of candidates) chunk += rows.row(c);
    rows.endPartition();
    yield chunk;
  }
}

/** The first row of an events export with these data columns. */
export function eventsHeader(columns: readonly string[]): string {
  return csvRow(["id", "type", "time", "lat", "lon", ...columns]);
}

/**
 * One step of an events export in steps (stepped-query.ts): the rows of up to `limit` events after
 * `cursor`, ending after the first row that brings the text to `maxChars` (so a step's text stays
 * bounded whatever its events hold), and the cursor the next step goes on from. The rows are those
 * `eventRows` writes for them. With `maxEvents`, the step also ends at the end of the first partition
 * after which that many events have been checked (a selective filter's rows may be far apart): `resume`
 * is then where the rest of the range starts (candidatesAfter).
 */
export async function eventRowsAfter(
  store: EventStore,
  spec: ListSpec,
  columns: readonly string[],
  limit: number,
  cursor: EventCursor | undefined,
  maxChars = Number.POSITIVE_INFINITY,
  maxEvents = Number.POSITIVE_INFINITY,
): Promise<{ csv: string; cursor: EventCursor | undefined; more: boolean; resume?: number }> {
  const { page, more, resume } = await candidatesAfter(store, spec, limit, cursor, maxEvents);
  const rows = new RowWriter(columns);
  let csv = "";
  let written = 0;
  while (written < page.length && csv.length < maxChars) csv += rows.row(page[written++]!);
  const last = page[written - 1];
  const next = last ? { time: last.time, id: last.id } : cursor;
  // Rows left unwritten lie before `resume`: the next step goes on from the cursor, not from there.
  if (resume !== undefined && written === page.length) return { csv, cursor: next, more: true, resume };
  return { csv, cursor: next, more: more || resume !== undefined || written < page.length };
}

/** Every data column of the matching events, sorted. */
async function unionOfColumns(store: EventStore, spec: ListSpec): Promise<string[]> {
  const union = new Set<string>();
  for await (const matches of scan(store, spec, { cache: false })) addColumns(union, matches);
  return [...union].sort();
}

/**
 * Adds to `union` the data columns of the events matching in whole partitions from `from` on, until
 * `maxEvents` events have been scanned (an export's first pass in steps); returns where the next step
 * starts, `spec.end` when none is left.
 */
export async function columnsFrom(
  store: EventStore,
  spec: ListSpec,
  from: number,
  union: Set<string>,
  maxEvents: number,
): Promise<number> {
  let scanned = 0;
  let day = "";
  const visit = (d: string, checked: number) => {
    day = d;
    scanned += checked;
  };
  const sel = { ...spec, start: Math.max(spec.start, from) };
  for await (const matches of scan(store, sel, { cache: false, visit })) {
    addColumns(union, matches);
    const next = dayStart(day) + DAY;
    if (scanned >= maxEvents && next < spec.end) return next;
  }
  return spec.end;
}

/** The data columns of a partition's matches; order does not matter here, so nothing is sorted. */
function addColumns(union: Set<string>, matches: readonly Match[]): void {
  for (const { segment, rows } of matches) {
    const stored = segment.csvShapes();
    if (stored) {
      const seen = new Uint8Array(stored.shapes.length);
      for (const row of rows) {
        const code = stored.codes[row]!;
        if (seen[code]) continue;
        seen[code] = 1;
        const shape = stored.shapes[code];
        if (!shape) throw corruptShape(segment);
        for (const path of shape) union.add(path);
      }
    } else {
      for (const row of rows) for (const path of csvPaths(segment.dataText(row))) union.add(path);
    }
  }
}

function corruptShape(segment: Segment): TallyError {
  return new TallyError("data_loss", `segment ${segment.minTime}: a row's CSV shape is out of range`);
}

/** Builds CSV rows; keeps per-segment position maps for the partition being written. */
class RowWriter {
  private readonly index: Map<string, number>;
  private readonly cells: string[];
  /**
   * Per segment: its rows' shape codes and, per shape, the column of each of its cells (-1: not exported)
   * and the columns that name one of its objects.
   */
  private readonly bySegment = new Map<
    Segment,
    { codes: Uint32Array; targets: Int32Array[]; objects: number[][] } | null
  >();
  private targets: Int32Array = new Int32Array(0);
  private readonly put = (k: number, cell: string) => {
    const column = this.targets[k]!;
    if (column >= 0) this.cells[column] = cell;
  };
  private readonly set = (path: string, cell: string) => {
    const column = this.index.get(path);
    if (column !== undefined) this.cells[column] = cell;
    for (let dot = path.indexOf("."); dot > 0; dot = path.indexOf(".", dot + 1)) {
      const object = this.index.get(path.slice(0, dot));
      if (object !== undefined && !this.objects.includes(object)) this.objects.push(object);
    }
  };
  /** The row's columns that name a (non-empty) object: flattening gives only its leaves. */
  private objects: number[] = [];
  private day = Number.NaN;
  private dayText = "";

  constructor(private readonly columns: readonly string[]) {
    this.index = new Map(columns.map((c, i) => [c, i]));
    this.cells = new Array<string>(columns.length).fill("");
  }

  row({ segment, row, time, id }: Candidate): string {
    const { cells } = this;
    cells.fill("");
    const text = segment.dataText(row);
    const positions = this.positions(segment);
    if (positions) {
      const code = positions.codes[row]!;
      const targets = positions.targets[code];
      if (!targets) throw corruptShape(segment);
      this.targets = targets;
      flattenCells(text, this.put);
      this.objects = positions.objects[code]!;
    } else {
      this.objects = [];
      flattenJsonText(text, this.set);
    }
    if (this.objects.length > 0) this.fillObjects(text);
    const lat = segment.lat[row]!;
    const located = !Number.isNaN(lat);
    const type = segment.types[segment.typeCodes[row]!]!;
    return `${csvCell(id)},${csvCell(type)},${this.iso(time)},${located ? lat : ""},${located ? segment.lon[row]! : ""}${cells.length ? "," : ""}${cells.join(",")}\r\n`;
  }

  endPartition(): void {
    this.bySegment.clear();
  }

  private positions(segment: Segment) {
    let entry = this.bySegment.get(segment);
    if (entry === undefined) {
      const stored = segment.csvShapes();
      entry = stored
        ? {
            codes: stored.codes,
            targets: stored.shapes.map((shape) => Int32Array.from(shape, (p) => this.index.get(p) ?? -1)),
            objects: stored.shapes.map((shape) => this.objectColumns(shape)),
          }
        : null;
      this.bySegment.set(segment, entry);
    }
    return entry;
  }

  /** The columns naming an object of a row of this shape: proper prefixes of its paths, at a dot. */
  private objectColumns(shape: readonly string[]): number[] {
    const found: number[] = [];
    for (const path of shape) {
      for (let dot = path.indexOf("."); dot > 0; dot = path.indexOf(".", dot + 1)) {
        const column = this.index.get(path.slice(0, dot));
        if (column !== undefined && !found.includes(column)) found.push(column);
      }
    }
    return found;
  }

  /**
   * A column naming an object holds its JSON text, as an array's does (rare: parsing is paid only then).
   * A column is only suspected of it (a key with a dot may share its prefix): one naming a plain value
   * keeps the cell flattening gave it.
   */
  private fillObjects(text: string): void {
    const data = JSON.parse(text) as unknown;
    for (const column of this.objects) {
      const object = objectAt(data, this.columns[column]!);
      if (object !== undefined) this.cells[column] = csvCell(JSON.stringify(object));
    }
  }

  /** ISO 8601 UTC with milliseconds, like Date#toISOString; only the day's part comes from a Date. */
  private iso(ms: number): string {
    const day = Math.floor(ms / DAY);
    if (!Number.isInteger(ms) || day < 0 || day >= LAST_FOUR_DIGIT_DAY) return new Date(ms).toISOString();
    if (day !== this.day) {
      this.day = day;
      this.dayText = new Date(day * DAY).toISOString().slice(0, 11);
    }
    let rest = ms - day * DAY;
    const h = Math.floor(rest / 3_600_000);
    rest -= h * 3_600_000;
    const m = Math.floor(rest / 60_000);
    rest -= m * 60_000;
    const sec = Math.floor(rest / 1000);
    return `${this.dayText}${TWO[h]}:${TWO[m]}:${TWO[sec]}.${THREE[rest - sec * 1000]}Z`;
  }
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * The object at a dotted path, as flattening names it, or undefined when the path reaches none: a key may
 * itself hold dots (`"app.version"`), so every split of the path at a dot is tried, the whole key first.
 */
function objectAt(value: unknown, path: string): Record<string, unknown> | undefined {
  if (!isObject(value)) return undefined;
  if (Object.hasOwn(value, path) && isObject(value[path])) return value[path];
  for (let dot = path.indexOf("."); dot > 0; dot = path.indexOf(".", dot + 1)) {
    const key = path.slice(0, dot);
    const found = Object.hasOwn(value, key) ? objectAt(value[key], path.slice(dot + 1)) : undefined;
    if (found !== undefined) return found;
  }
  return undefined;
}

const DAY = 86_400_000;
/** 10000-01-01: from there toISOString writes six-digit years, so those (and years before 1970) go through it. */
const LAST_FOUR_DIGIT_DAY = 2_932_897;
const TWO = Array.from({ length: 60 }, (_, i) => String(i).padStart(2, "0"));
const THREE = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, "0"));
