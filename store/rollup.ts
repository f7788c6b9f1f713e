/**
 * Rollups: exact pre-aggregated counts kept inside each segment, beside its rows (docs/storage.md).
 *
 * A rollup table counts the segment's events per (time slot, type, value set of each dimension). An entry
 * keeps the *set* of values a dimension reaches in its events (every distinct (tag, value) pair, as the
 * path columns hold them, codes into the segment's own dictionary), so any filter or group-by on those
 * fields evaluates on an entry exactly as on each of its events: the same code (filter.ts, series.ts)
 * runs on both. Tables are built from the segment's own columns when it is encoded, so they hold exactly
 * its rows: compaction, which encodes the merged rows, rebuilds them from what it keeps.
 */
import type { PathColumn } from "./segment-format.ts";

/** The dimension sets rolled up (the event type is always one): what dashboards filter and group by. */
export const ROLLUP_DIMS: readonly (readonly string[])[] = [
  ["org", "project"],
  ["org", "supplies.name"],
  ["org", "needs.name"],
];

const HOUR = 3_600_000;
const QUARTER = 900_000;
/**
 * Slot lengths, coarsest first: 0 = the whole segment (one slot from minTime); hours serve zones with
 * whole-hour offsets; quarter hours every offset in use today (+5:45, +8:45, Lord Howe's 30-minute DST).
 */
export const ROLLUP_SLOTS: readonly number[] = [0, HOUR, QUARTER];

/** One table as written and as read: entries sorted by slot. */
export interface RollupTable {
  dims: readonly string[];
  slotMs: number;
  count: number;
  /** Each entry's slot start (ms, a multiple of slotMs), or the segment's minTime for slotMs 0. */
  slot: Float64Array;
  /** Events counted by each entry. */
  weight: Uint32Array;
  /** Each entry's event type, a code into the segment's types. */
  type: Uint32Array;
  /** Per dimension, each entry's value set (entry e's values are [offsets[e], offsets[e+1])). */
  columns: PathColumn[];
}

/** Value sets of one dimension: a small id per row (0 = no value), and each id's (tag, val) pairs. */
interface ValueSets {
  ofRow: Uint32Array;
  tags: number[][];
  vals: number[][];
}

function valueSets(n: number, column: PathColumn | undefined): ValueSets {
  const sets: ValueSets = { ofRow: new Uint32Array(n), tags: [[]], vals: [[]] };
  if (!column) return sets;
  const { offsets, tags, vals } = column;
  // Keys: a single string/object code as a number (the common case), anything else as text.
  const ids = new Map<number | string, number>();
  for (let r = 0; r < n; r++) {
    const from = offsets[r]!;
    const to = offsets[r + 1]!;
    if (from === to) continue;
    let key: number | string;
    let setTags: number[];
    let setVals: number[];
    if (to - from === 1 && tags[from]! >= 4) {
      key = vals[from]! * 8 + tags[from]!;
      setTags = [tags[from]!];
      setVals = [vals[from]!];
    } else {
      const pairs = new Map<string, [number, number]>();
      for (let k = from; k < to; k++) pairs.set(`${tags[k]}:${vals[k]}`, [tags[k]!, vals[k]!]);
      const sorted = [...pairs].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      key = sorted.map(([k]) => k).join(",");
      setTags = sorted.map(([, p]) => p[0]);
      setVals = sorted.map(([, p]) => p[1]);
    }
    let id = ids.get(key);
    if (id === undefined) {
      id = sets.tags.length;
      ids.set(key, id);
      sets.tags.push(setTags);
      sets.vals.push(setVals);
    }
    sets.ofRow[r] = id;
  }
  return sets;
}

/** Interns pairs of small ids into a new small id per distinct pair. */
function combine(n: number, a: ArrayLike<number>, b: Uint32Array, bSize: number): Uint32Array {
  const out = new Uint32Array(n);
  const ids = new Map<number, number>();
  for (let r = 0; r < n; r++) {
    const key = a[r]! * bSize + b[r]!;
    let id = ids.get(key);
    if (id === undefined) {
      id = ids.size;
      ids.set(key, id);
    }
    out[r] = id;
  }
  return out;
}

/**
 * The rollup tables of a segment's rows (sorted by time): for each dimension set in ROLLUP_DIMS and each
 * slot length in ROLLUP_SLOTS. `path` gives a data path's column as encoded.
 */
export function buildRollups(
  time: Float64Array,
  typeCodes: Uint32Array,
  path: (name: string) => PathColumn | undefined,
): RollupTable[] {
  const n = time.length;
  const sets = new Map<string, ValueSets>();
  const setsOf = (dim: string) => {
    let s = sets.get(dim);
    if (!s) {
      s = valueSets(n, path(dim));
      sets.set(dim, s);
    }
    return s;
  };
  const out: RollupTable[] = [];
  for (const dims of ROLLUP_DIMS) {
    // A combined id per row for (type, dims…): rows with the same id are interchangeable to any query on them.
    let combined: Uint32Array = typeCodes;
    for (const dim of dims) {
      const s = setsOf(dim);
      combined = combine(n, combined, s.ofRow, s.tags.length);
    }
    for (const slotMs of ROLLUP_SLOTS)
      out.push(table(dims, slotMs, time, typeCodes, combined, dims.map(setsOf)));
  }
  return out;
}

function table(
  dims: readonly string[],
  slotMs: number,
  time: Float64Array,
  typeCodes: Uint32Array,
  combined: Uint32Array,
  sets: ValueSets[],
): RollupTable {
  const n = time.length;
  const slot: number[] = [];
  const weight: number[] = [];
  const rep: number[] = [];
  // Rows ascend in time, so slots are visited in order: one map of entries per slot.
  let current = Number.NaN;
  let entries = new Map<number, number>();
  for (let r = 0; r < n; r++) {
    const s = slotMs === 0 ? time[0]! : Math.floor(time[r]! / slotMs) * slotMs;
    if (s !== current) {
      current = s;
      entries = new Map();
    }
    const id = combined[r]!;
    const e = entries.get(id);
    if (e === undefined) {
      entries.set(id, slot.length);
      slot.push(s);
      weight.push(1);
      rep.push(r);
    } else weight[e]!++;
  }
  const count = slot.length;
  const columns = sets.map((set) => {
    const offsets = new Uint32Array(count + 1);
    const tags: number[] = [];
    const vals: number[] = [];
    for (let e = 0; e < count; e++) {
      const id = set.ofRow[rep[e]!]!;
      const t = set.tags[id]!;
      const v = set.vals[id]!;
      for (let k = 0; k < t.length; k++) {
        tags.push(t[k]!);
        vals.push(v[k]!);
      }
      offsets[e + 1] = tags.length;
    }
    return { offsets, tags: Uint8Array.from(tags), vals: Float64Array.from(vals) };
  });
  return {
    dims,
    slotMs,
    count,
    slot: Float64Array.from(slot),
    weight: Uint32Array.from(weight),
    type: Uint32Array.from(rep, (r) => typeCodes[r]!),
    columns,
  };
}
