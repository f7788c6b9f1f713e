/**
 * A rollup table summed over what a query does not use. A table counts events per (type, dimension values,
 * slot); a query that filters on org and groups by project reads org and project only, yet visits one
 * combination per type as well — five times the entries a dashboard's query needs, each a few cache
 * misses in a table of its own per day. Summing the unused dimensions away once per table (cached, as the
 * table itself is immutable) makes every later query with that shape visit only what it reads.
 *
 * Exact: every event is in exactly one combination of the table, so it is in exactly one of the
 * projection (the combinations with the same kept values, merged). An exploded dimension is never summed
 * away — a query that may use an exploded table always uses its dimension (rollup-query.ts).
 */
import { type RollupTable, rollupTable, slotNumberArray } from "./rollup.ts";
import { pathColumnBytes, TAG_OBJECT, TAG_STRING } from "./segment-format.ts";

/**
 * `table` with only the dimensions `dims` (in the table's order) and, unless `keepType`, every event type
 * counted as one (type code 0: the query neither filters nor groups by type).
 */
export function projectRollup(
  table: RollupTable,
  keepType: boolean,
  dims: readonly string[],
  /** Told the bytes of a projection when it is made (kept with `table`: the caller counts them). */
  made?: (bytes: number) => void,
): RollupTable {
  const signature = `${keepType ? "t" : "-"}\u0000${dims.join("\u0000")}`;
  let projections = cache.get(table);
  if (!projections) {
    projections = new Map();
    cache.set(table, projections);
  }
  const known = projections.get(signature);
  if (typeof known === "object") return known;
  // Built on a shape's second query of the table, not its first: a cold query (or a one-off shape) reads
  // each table once, and summing it would cost more than visiting it.
  if (known === undefined) {
    projections.set(signature, 1);
    return table;
  }
  // Slots far apart (not a day's quarter-hours) would need a large count array, scanned per combination:
  // visit the table as it is.
  const top = topSlot(table);
  if (top > MAX_SPAN) return table;
  const projection = project(table, keepType, dims, top);
  projections.set(signature, projection);
  made?.(tableBytes(projection));
  return projection;
}

/** A week of quarter-hours; a daily partition's segments span at most 96. */
const MAX_SPAN = 7 * 96;

/** Per table and query shape: the projection, or 1 when the shape has been asked for once. */
const cache = new WeakMap<RollupTable, Map<string, RollupTable | 1>>();

/** The bytes of a table's arrays. */
function tableBytes(t: RollupTable): number {
  let bytes =
    t.type.byteLength + t.total.byteLength + t.first.byteLength + t.slot.byteLength + t.cum.byteLength;
  for (const c of t.columns) bytes += pathColumnBytes(c);
  return bytes;
}

/** The table's largest slot number. */
function topSlot(table: RollupTable): number {
  let top = 0;
  for (let i = 0; i < table.slot.length; i++) if (table.slot[i]! > top) top = table.slot[i]!;
  return top;
}

function project(table: RollupTable, keepType: boolean, dims: readonly string[], top: number): RollupTable {
  const kept = dims.map((d) => table.dims.indexOf(d));
  if (kept.some((j) => j < 0)) throw new Error(`rollup projection: ${dims.join(", ")} not all in the table`);
  if (table.explode !== undefined && !dims.includes(table.explode)) {
    throw new Error("rollup projection: an exploded dimension cannot be summed away");
  }
  // Merge the combinations with equal kept values (and type): each group becomes one combination.
  const { groupOf, count } = groupCombinations(table, keepType, kept);
  // Each group's members, ascending (a counting sort by group).
  const start = new Uint32Array(count + 1);
  for (let c = 0; c < table.count; c++) start[groupOf[c]! + 1]!++;
  for (let g = 0; g < count; g++) start[g + 1]! += start[g]!;
  const members = new Uint32Array(table.count);
  const fill = start.slice(0, count);
  for (let c = 0; c < table.count; c++) members[fill[groupOf[c]!]!++] = c;

  const columns = kept.map((j) => keptValues(table.columns[j]!, members, start, count));
  const { type, total, first, slot, cum } = sumGroups(table, keepType, top, members, start, count);
  return rollupTable({
    dims,
    explode: table.explode,
    textUnique: table.textUnique,
    slotMs: table.slotMs,
    count,
    type,
    columns,
    total,
    first,
    slotBase: table.slotBase,
    slot,
    cum,
    text: table.text,
    codeOf: table.codeOf,
  });
}

/**
 * Per group (members[start[g]..start[g+1]), ascending): its type, total, and slot entries with running
 * counts. A function of its own: when this loop shared one with the code after it, the on-stack optimised
 * loop deoptimised at that code on every table (measured: ~80 deopts per 181 tables).
 */
function sumGroups(
  table: RollupTable,
  keepType: boolean,
  top: number,
  members: Uint32Array,
  start: Uint32Array,
  count: number,
): Pick<RollupTable, "type" | "total" | "first" | "slot" | "cum"> {
  const type = new Uint32Array(count);
  const total = new Uint32Array(count);
  const first = new Uint32Array(count + 1);
  // At most as many entries as the table has: filled, then cut to length.
  const slots = slotNumberArray(table.slot.length, top);
  const cums = new Uint32Array(table.slot.length);
  let entries = 0;
  const { slot: numbers, cum, first: from, total: totals, type: types } = table;
  // Events per slot number, summed over a group's combinations: a small dense array (a day's 96 slots;
  // tables wider than MAX_SPAN are not projected), read back in order.
  const perSlot = new Float64Array(top + 1);
  for (let g = 0; g < count; g++) {
    const c0 = members[start[g]!]!;
    type[g] = keepType ? types[c0]! : 0;
    let sum = 0;
    if (start[g + 1]! - start[g]! === 1) {
      // Nothing merged: the combination's entries as they are.
      for (let e = from[c0]!, end = from[c0 + 1]!; e < end; e++) {
        slots[entries] = numbers[e]!;
        cums[entries++] = cum[e]!;
      }
      total[g] = totals[c0]!;
      first[g + 1] = entries;
      continue;
    }
    for (let m = start[g]!; m < start[g + 1]!; m++) {
      const c = members[m]!;
      let before = 0;
      for (let e = from[c]!, end = from[c + 1]!; e < end; e++) {
        perSlot[numbers[e]!]! += cum[e]! - before;
        before = cum[e]!;
      }
      sum += totals[c]!;
    }
    total[g] = sum;
    let running = 0;
    for (let n = 0; n <= top; n++) {
      if (perSlot[n] === 0) continue;
      running += perSlot[n]!;
      perSlot[n] = 0;
      slots[entries] = n;
      cums[entries++] = running;
    }
    first[g + 1] = entries;
  }
  return { type, total, first, slot: slots.slice(0, entries), cum: cums.slice(0, entries) };
}

/** A dimension's value sets per group: those of the group's first member. */
function keptValues(
  column: RollupTable["columns"][number],
  members: Uint32Array,
  start: Uint32Array,
  count: number,
): RollupTable["columns"][number] {
  const { offsets, tags, vals } = column;
  const outOffsets = new Uint32Array(count + 1);
  for (let g = 0; g < count; g++) {
    const c0 = members[start[g]!]!;
    outOffsets[g + 1] = outOffsets[g]! + offsets[c0 + 1]! - offsets[c0]!;
  }
  const outTags = new Uint8Array(outOffsets[count]!);
  const outVals = new Float64Array(outOffsets[count]!);
  for (let g = 0; g < count; g++) {
    const c0 = members[start[g]!]!;
    for (let k = offsets[c0]!, at = outOffsets[g]!; k < offsets[c0 + 1]!; k++, at++) {
      outTags[at] = tags[k]!;
      outVals[at] = vals[k]!;
    }
  }
  return { offsets: outOffsets, tags: outTags, vals: outVals };
}

/**
 * Each combination's group (numbered by first member) when combinations with equal kept values (and
 * type, with `keepType`) merge. Value sets of one string or object each — what dashboards' dimensions
 * hold — are numbered by their codes; any other table is keyed by the sets' texts.
 */
function groupCombinations(
  table: RollupTable,
  keepType: boolean,
  kept: readonly number[],
): { groupOf: Uint32Array; count: number } {
  const n = table.count;
  const groupOf = new Uint32Array(n);
  const single = kept.every((j) => {
    const { offsets, tags } = table.columns[j]!;
    for (let c = 0; c < n; c++) {
      if (offsets[c + 1]! - offsets[c]! !== 1) return false;
      const tag = tags[offsets[c]!]!;
      if (tag !== TAG_STRING && tag !== TAG_OBJECT) return false;
    }
    return true;
  });
  if (single) {
    // Dense ids, one dimension at a time: (id so far, this dimension's code and tag) → next id.
    if (keepType) {
      const ids = new Map<number, number>();
      for (let c = 0; c < n; c++) groupOf[c] = denseId(ids, table.type[c]!);
    }
    for (const j of kept) {
      const { offsets, tags, vals } = table.columns[j]!;
      const codes = new Map<number, number>();
      const ids = new Map<number, number>();
      for (let c = 0; c < n; c++) {
        const k = offsets[c]!;
        const code = denseId(codes, vals[k]! * 8 + tags[k]!);
        groupOf[c] = denseId(ids, groupOf[c]! * n + code);
      }
    }
    // Numbered again by first member, as the general path numbers them.
    const order = new Map<number, number>();
    for (let c = 0; c < n; c++) groupOf[c] = denseId(order, groupOf[c]!);
    return { groupOf, count: order.size };
  }
  const groups = new Map<string, number>();
  for (let c = 0; c < n; c++) {
    let key = keepType ? `${table.type[c]}` : "";
    for (const j of kept) {
      const { offsets, tags, vals } = table.columns[j]!;
      key += "|";
      for (let k = offsets[c]!; k < offsets[c + 1]!; k++) key += `${tags[k]}:${vals[k]},`;
    }
    groupOf[c] = denseId(groups, key);
  }
  return { groupOf, count: groups.size };
}

/** The id `key` has in `ids`, given the next one if it has none yet. */
function denseId<K>(ids: Map<K, number>, key: K): number {
  let id = ids.get(key);
  if (id === undefined) {
    id = ids.size;
    ids.set(key, id);
  }
  return id;
}
