/**
 * Rollups: exact pre-aggregated counts kept inside each segment, beside its rows (docs/storage.md).
 *
 * A rollup table groups the segment's events into *combinations*: events with the same type and the same
 * *set* of values for each of the table's dimensions (every distinct (tag, value) pair, as the path
 * columns hold them, codes into the segment's own dictionary). Any filter or group-by on those fields
 * treats all events of a combination alike, and runs on a combination with the same code as on an event
 * (filter.ts, series.ts). Per combination the table keeps its total and, per 15-minute slot it has events
 * in, the running count up to the end of that slot: the count within any span whose ends are multiples of
 * 15 minutes is a difference of two running counts. Quarter hours fit every UTC offset in use (+5:45,
 * +8:45, Lord Howe's 30-minute DST), so bucket boundaries in any zone at hour, day, week or month intervals
 * fall between slots.
 *
 * Tables are built from the segment's own columns when it is encoded, so they count exactly its rows:
 * compaction, which encodes the merged rows without the duplicates it drops, rebuilds them from those.
 */
import { type PathColumn, TAG_STRING } from "./segment-format.ts";

/**
 * The dimension sets rolled up (the event type is always one): what dashboards filter and group by. Each
 * gets a value-set table (exact for every query on its fields) and, in compacted segments, one exploded by
 * its last dimension when some event has several values of it. The small `compacted` sets are built at
 * compaction only, and only in their compact form (exploded when there are several values): a filter or
 * group on org alone (a dashboard's default chart) reads type × org combinations instead of
 * type × org × project, and one on supply or need names alone ~type × names instead of type × org × names;
 * fresh segments answer such queries from the larger tables.
 */
export const ROLLUP_DIMS: readonly { dims: readonly string[]; compacted?: boolean }[] = [
  { dims: ["org", "project"] },
  { dims: ["org", "supplies.name"] },
  { dims: ["org", "needs"] },
  { dims: ["org"], compacted: true },
  { dims: ["supplies.name"], compacted: true },
  { dims: ["needs"], compacted: true },
];

/** Slot length: every boundary a query may put inside a segment must be a multiple of it. */
export const ROLLUP_SLOT_MS = 900_000;

/** One table as written and as read. */
export interface RollupTable {
  dims: readonly string[];
  /**
   * Absent: a combination is a set of values per dimension, so every query on the fields is exact. Set: this
   * dimension (the last) is exploded — an event with several values is counted once under each — which
   * keeps tables of multi-valued fields small but is exact only for some queries (rollup-query.ts).
   */
  explode?: string;
  /** With `explode`: no event has two values of it with the same group text (say "1" and 1). */
  textUnique?: boolean;
  slotMs: number;
  /** Combinations. */
  count: number;
  /** Each combination's event type, a code into the segment's types. */
  type: Uint32Array;
  /** Per dimension, each combination's value set (combination c's values are [offsets[c], offsets[c+1])). */
  columns: PathColumn[];
  /** Events per combination. */
  total: Uint32Array;
  /** Combination c's slot entries are [first[c], first[c+1]). */
  first: Uint32Array;
  /** Where slot number 0 starts (ms, a multiple of slotMs): the segment's first slot. */
  slotBase: number;
  /**
   * Per slot entry, ascending within a combination: its slot number, counted from `slotBase` (the slot
   * starts at slotBase + number × slotMs) — one byte per entry for a day's 96 quarter-hours…
   */
  slot: SlotNumbers;
  /** …and the combination's events up to the end of that slot. */
  cum: Uint32Array;
  /**
   * The text of a string or object code its columns hold, from the table's own few texts (segments that
   * carry them, segment-format.ts), so that a cold read need not fetch the segment's whole dictionary.
   */
  text?: (code: number) => string;
  /** With `text`: the code of a text among the table's own texts, or -1. */
  codeOf?: (text: string) => number;
}

/**
 * A table object with every field, in one order: tables come from three places (built here, read from a
 * segment, projected), and the query loops that read them stay monomorphic only if all share one shape.
 */
export function rollupTable(t: RollupTable): RollupTable {
  return {
    dims: t.dims,
    explode: t.explode,
    textUnique: t.textUnique,
    slotMs: t.slotMs,
    count: t.count,
    type: t.type,
    columns: t.columns,
    total: t.total,
    first: t.first,
    slotBase: t.slotBase,
    slot: t.slot,
    cum: t.cum,
    text: t.text,
    codeOf: t.codeOf,
  };
}

/** Slot numbers in the narrowest array that holds them (stored as u8 or u32, projected also as u16). */
export type SlotNumbers = Uint8Array | Uint16Array | Uint32Array;

/** An array for `length` slot numbers up to `max`, as narrow as they allow (`u16`: may it be 16-bit). */
export function slotNumberArray(length: number, max: number, u16 = true): SlotNumbers {
  if (max < 256) return new Uint8Array(length);
  return u16 && max < 65536 ? new Uint16Array(length) : new Uint32Array(length);
}

/** Value sets of one dimension: a small id per row (0 = no value), and each id's (tag, val) pairs. */
interface ValueSets {
  ofRow: Uint32Array;
  tags: number[][];
  vals: number[][];
}

/**
 * Rows exploded by the values of one dimension: a virtual row per (row, distinct value), or one with no
 * value for a row that has none, in row order.
 */
function explodeRows(sets: ValueSets, n: number, text: (tag: number, val: number) => string) {
  const rowOf: number[] = [];
  const value: number[] = [];
  const single: ValueSets = { ofRow: new Uint32Array(0), tags: [[]], vals: [[]] };
  const ids = new Map<string, number>();
  const valuesOfSet: number[][] = sets.tags.map((tags, s) =>
    tags.map((tag, k) => {
      const val = sets.vals[s]![k]!;
      const key = `${tag}:${val}`;
      let id = ids.get(key);
      if (id === undefined) {
        id = single.tags.length;
        ids.set(key, id);
        single.tags.push([tag]);
        single.vals.push([val]);
      }
      return id;
    }),
  );
  const textUnique = sets.tags.every((tags, s) => {
    const texts = new Set(tags.map((tag, k) => text(tag, sets.vals[s]![k]!)));
    return texts.size === tags.length;
  });
  for (let r = 0; r < n; r++) {
    const values = valuesOfSet[sets.ofRow[r]!]!;
    if (values.length === 0) {
      rowOf.push(r);
      value.push(0);
    } else
      for (const v of values) {
        rowOf.push(r);
        value.push(v);
      }
  }
  single.ofRow = Uint32Array.from(value);
  return { rowOf: Uint32Array.from(rowOf), single, textUnique };
}

function valueSets(n: number, column: PathColumn | undefined, dictSize: number): ValueSets {
  const sets: ValueSets = { ofRow: new Uint32Array(n), tags: [[]], vals: [[]] };
  if (!column) return sets;
  const { offsets, tags, vals } = column;
  // A single string or object value (the common case) finds its set by dictionary code; others by text.
  const byCode = new Int32Array(2 * dictSize).fill(-1);
  const ids = new Map<string, number>();
  const twoStrings = new Map<number, number>();
  const add = (setTags: number[], setVals: number[]) => {
    sets.tags.push(setTags);
    sets.vals.push(setVals);
    return sets.tags.length - 1;
  };
  for (let r = 0; r < n; r++) {
    const from = offsets[r]!;
    const to = offsets[r + 1]!;
    if (from === to) continue;
    const tag = tags[from]!;
    if (to - from === 1 && tag >= TAG_STRING) {
      const slot = 2 * vals[from]! + tag - TAG_STRING;
      let id = byCode[slot]!;
      if (id < 0) {
        id = add([tag], [vals[from]!]);
        byCode[slot] = id;
      }
      sets.ofRow[r] = id;
      continue;
    }
    if (to - from === 2 && tag === TAG_STRING && tags[from + 1] === TAG_STRING) {
      // Two strings (a supply list, say): found by their two codes.
      const a = Math.min(vals[from]!, vals[from + 1]!);
      const b = Math.max(vals[from]!, vals[from + 1]!);
      const pair = a === b ? -1 : a * 0x4000000 + b;
      let id = pair < 0 ? byCode[2 * a]! : (twoStrings.get(pair) ?? -1);
      if (id < 0) {
        id = pair < 0 ? add([TAG_STRING], [a]) : add([TAG_STRING, TAG_STRING], [a, b]);
        if (pair < 0) byCode[2 * a] = id;
        else twoStrings.set(pair, id);
      }
      sets.ofRow[r] = id;
      continue;
    }
    // Several values: their distinct (tag, val) pairs, sorted, found by one key.
    const pairs = new Map<string, [number, number]>();
    for (let k = from; k < to; k++) pairs.set(`${tags[k]}:${vals[k]}`, [tags[k]!, vals[k]!]);
    const sorted = [...pairs].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const key = sorted.length === 1 ? sorted[0]![0] : sorted.map(([k]) => k).join(",");
    let id = ids.get(key);
    if (id === undefined) {
      // A one-value set of a string or object is found by code above: keep one id per set.
      const only = sorted.length === 1 && sorted[0]![1][0] >= TAG_STRING ? sorted[0]![1] : undefined;
      id = only ? byCode[2 * only[1] + only[0] - TAG_STRING]! : -1;
      if (id < 0) {
        id = add(
          sorted.map(([, p]) => p[0]),
          sorted.map(([, p]) => p[1]),
        );
        if (only) byCode[2 * only[1] + only[0] - TAG_STRING] = id;
      }
      ids.set(key, id);
    }
    sets.ofRow[r] = id;
  }
  return sets;
}

/** Interns pairs of small ids (a < aSize, b < bSize) into a new small id per distinct pair; `size` ids. */
function combine(
  n: number,
  a: ArrayLike<number>,
  aSize: number,
  b: Uint32Array,
  bSize: number,
): { ids: Uint32Array; size: number } {
  const out = new Uint32Array(n);
  let size = 0;
  if (aSize * bSize <= 4 * n + 4096) {
    const table = new Int32Array(aSize * bSize).fill(-1);
    for (let r = 0; r < n; r++) {
      const key = a[r]! * bSize + b[r]!;
      let id = table[key]!;
      if (id < 0) {
        id = size++;
        table[key] = id;
      }
      out[r] = id;
    }
    return { ids: out, size };
  }
  const ids = new Map<number, number>();
  for (let r = 0; r < n; r++) {
    const key = a[r]! * bSize + b[r]!;
    let id = ids.get(key);
    if (id === undefined) {
      id = size++;
      ids.set(key, id);
    }
    out[r] = id;
  }
  return { ids: out, size };
}

/**
 * The rollup tables of a segment's rows (sorted by time), per dimension set in ROLLUP_DIMS: one with value
 * sets, and (when `exploded`) one exploded by the last dimension when some event has several values of it. `path` gives a
 * data path's column as encoded; `dict` the dictionary its string and object codes point into;
 * `typeCount` is the size of the type dictionary.
 */
export function buildRollups(
  time: Float64Array,
  typeCodes: Uint32Array,
  typeCount: number,
  path: (name: string) => PathColumn | undefined,
  dict: readonly string[],
  exploded = true,
): RollupTable[] {
  const n = time.length;
  const sets = new Map<string, ValueSets>();
  const setsOf = (dim: string) => {
    let s = sets.get(dim);
    if (!s) {
      s = valueSets(n, path(dim), dict.length);
      sets.set(dim, s);
    }
    return s;
  };
  // Slot of each row, counted from the first row's.
  const slotIndex = new Uint32Array(n);
  const firstSlot = n > 0 ? Math.floor(time[0]! / ROLLUP_SLOT_MS) : 0;
  for (let r = 0; r < n; r++) slotIndex[r] = Math.floor(time[r]! / ROLLUP_SLOT_MS) - firstSlot;
  // Combination ids of (type, dims…) prefixes, shared between dimension sets that start alike.
  const prefixes = new Map<string, { ids: ArrayLike<number>; size: number }>([
    ["", { ids: typeCodes, size: typeCount }],
  ]);
  const prefix = (dims: readonly string[]) => {
    let combined = prefixes.get("")!;
    dims.forEach((dim, i) => {
      const key = dims.slice(0, i + 1).join("\u0000");
      let next = prefixes.get(key);
      if (!next) {
        const s = setsOf(dim);
        next = combine(n, combined.ids, combined.size, s.ofRow, s.tags.length);
        prefixes.set(key, next);
      }
      combined = next;
    });
    return combined;
  };
  const text = (tag: number, val: number) =>
    tag === 0 ? "null" : tag === 1 ? "false" : tag === 2 ? "true" : tag === 3 ? String(val) : dict[val]!;
  const out: RollupTable[] = [];
  for (const { dims, compacted } of ROLLUP_DIMS) {
    if (compacted && !exploded) continue;
    const last = dims[dims.length - 1]!;
    const lastSets = setsOf(last);
    const multi = lastSets.tags.some((t) => t.length > 1);
    if (!(compacted && multi)) {
      const combined = prefix(dims);
      out.push(table(dims, typeCodes, combined.ids, combined.size, dims.map(setsOf), slotIndex, firstSlot));
    }
    if (!exploded || !multi) continue;
    const { rowOf, single, textUnique } = explodeRows(lastSets, n, text);
    const head = prefix(dims.slice(0, -1));
    const gather = (of: ArrayLike<number>) => {
      const out = new Uint32Array(rowOf.length);
      for (let v = 0; v < rowOf.length; v++) out[v] = of[rowOf[v]!]!;
      return out;
    };
    const combos = combine(rowOf.length, gather(head.ids), head.size, single.ofRow, single.tags.length);
    const virtualSets = dims.map((dim) =>
      dim === last ? single : { ...setsOf(dim), ofRow: gather(setsOf(dim).ofRow) },
    );
    out.push(
      rollupTable({
        ...table(dims, gather(typeCodes), combos.ids, combos.size, virtualSets, gather(slotIndex), firstSlot),
        explode: last,
        textUnique,
      }),
    );
  }
  return out;
}

function table(
  dims: readonly string[],
  typeCodes: Uint32Array,
  combo: ArrayLike<number>,
  count: number,
  sets: ValueSets[],
  slotIndex: Uint32Array,
  firstSlot: number,
): RollupTable {
  const n = combo.length;
  // Events per (combination, slot), in row order: a combination's entry is current while its slot is.
  const rep = new Int32Array(count).fill(-1);
  const total = new Uint32Array(count);
  const lastSlot = new Int32Array(count).fill(-1);
  const entryCombo = new Uint32Array(n);
  const entrySlot = new Uint32Array(n);
  const entryCount = new Uint32Array(n);
  let m = 0;
  const entryOf = new Uint32Array(count);
  const entries = new Uint32Array(count + 1);
  for (let r = 0; r < n; r++) {
    const c = combo[r]!;
    const s = slotIndex[r]!;
    total[c]!++;
    if (rep[c] === -1) rep[c] = r;
    if (lastSlot[c] === s) entryCount[entryOf[c]!]!++;
    else {
      lastSlot[c] = s;
      entryOf[c] = m;
      entryCombo[m] = c;
      entrySlot[m] = s;
      entryCount[m++] = 1;
      entries[c + 1]!++;
    }
  }
  // Group the entries by combination (a counting sort keeps each one's slots ascending), with running counts.
  const first = new Uint32Array(count + 1);
  for (let c = 0; c < count; c++) first[c + 1] = first[c]! + entries[c + 1]!;
  const next = first.slice(0, count);
  let top = 0;
  for (let e = 0; e < m; e++) top = Math.max(top, entrySlot[e]!);
  // Stored as bytes (a day's quarter-hours) or 32-bit words.
  const slot = slotNumberArray(m, top, false);
  const cum = new Uint32Array(m);
  const running = new Uint32Array(count);
  for (let e = 0; e < m; e++) {
    const c = entryCombo[e]!;
    const at = next[c]!++;
    running[c]! += entryCount[e]!;
    slot[at] = entrySlot[e]!;
    cum[at] = running[c]!;
  }
  const columns = sets.map((set) => {
    const offsets = new Uint32Array(count + 1);
    for (let c = 0; c < count; c++) offsets[c + 1] = offsets[c]! + set.tags[set.ofRow[rep[c]!]!]!.length;
    const tags = new Uint8Array(offsets[count]!);
    const vals = new Float64Array(offsets[count]!);
    for (let c = 0; c < count; c++) {
      const id = set.ofRow[rep[c]!]!;
      const t = set.tags[id]!;
      const v = set.vals[id]!;
      for (let k = 0, at = offsets[c]!; k < t.length; k++, at++) {
        tags[at] = t[k]!;
        vals[at] = v[k]!;
      }
    }
    return { offsets, tags, vals };
  });
  const type = new Uint32Array(count);
  for (let c = 0; c < count; c++) type[c] = typeCodes[rep[c]!]!;
  return rollupTable({
    dims,
    slotMs: ROLLUP_SLOT_MS,
    count,
    type,
    columns,
    total,
    first,
    slotBase: firstSlot * ROLLUP_SLOT_MS,
    slot,
    cum,
  });
}
