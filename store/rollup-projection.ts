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
import { type RollupTable, slotNumberArray } from "./rollup.ts";

/**
 * `table` with only the dimensions `dims` (in the table's order) and, unless `keepType`, every event type
 * counted as one (type code 0: the query neither filters nor groups by type).
 */
export function projectRollup(table: RollupTable, keepType: boolean, dims: readonly string[]): RollupTable {
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
  // Slots far apart (not a day's quarter-hours) would need a large count array: visit the table as it is.
  const top = topSlot(table);
  if (top > MAX_SPAN) return table;
  const projection = project(table, keepType, dims, top);
  projections.set(signature, projection);
  return projection;
}

const MAX_SPAN = 65_535;

/** Per table and query shape: the projection, or 1 when the shape has been asked for once. */
const cache = new WeakMap<RollupTable, Map<string, RollupTable | 1>>();

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
  const groups = new Map<string, number[]>();
  for (let c = 0; c < table.count; c++) {
    let key = keepType ? `${table.type[c]}` : "";
    for (const j of kept) {
      const { offsets, tags, vals } = table.columns[j]!;
      key += "|";
      for (let k = offsets[c]!; k < offsets[c + 1]!; k++) key += `${tags[k]}:${vals[k]},`;
    }
    const group = groups.get(key);
    if (group) group.push(c);
    else groups.set(key, [c]);
  }
  const members = [...groups.values()];
  const count = members.length;
  const type = new Uint32Array(count);
  const total = new Uint32Array(count);
  const first = new Uint32Array(count + 1);
  // At most as many entries and values as the table has: filled, then cut to length.
  const slots = slotNumberArray(table.slot.length, top);
  const cums = new Uint32Array(table.slot.length);
  let entries = 0;
  const columns = kept.map(() => ({
    offsets: new Uint32Array(count + 1),
    tags: [] as number[],
    vals: [] as number[],
  }));
  const numbers = table.slot;
  // Events per slot number, summed over a group's combinations (a day of slots: a small dense array).
  const perSlot = new Float64Array(top + 1);
  const seen = new Uint8Array(top + 1);
  const touched: number[] = [];
  members.forEach((group, g) => {
    const c0 = group[0]!;
    type[g] = keepType ? table.type[c0]! : 0;
    kept.forEach((j, i) => {
      const { offsets, tags, vals } = table.columns[j]!;
      const out = columns[i]!;
      for (let k = offsets[c0]!; k < offsets[c0 + 1]!; k++) {
        out.tags.push(tags[k]!);
        out.vals.push(vals[k]!);
      }
      out.offsets[g + 1] = out.tags.length;
    });
    touched.length = 0;
    let sum = 0;
    for (const c of group) {
      let before = 0;
      for (let e = table.first[c]!, end = table.first[c + 1]!; e < end; e++) {
        const n = numbers[e]!;
        if (!seen[n]) {
          seen[n] = 1;
          touched.push(n);
        }
        perSlot[n]! += table.cum[e]! - before;
        before = table.cum[e]!;
      }
      sum += table.total[c]!;
    }
    total[g] = sum;
    if (group.length > 1) touched.sort((a, b) => a - b);
    let running = 0;
    for (const n of touched) {
      running += perSlot[n]!;
      perSlot[n] = 0;
      seen[n] = 0;
      slots[entries] = n;
      cums[entries++] = running;
    }
    first[g + 1] = entries;
  });
  return {
    dims,
    ...(table.explode !== undefined ? { explode: table.explode, textUnique: table.textUnique } : {}),
    slotMs: table.slotMs,
    count,
    type,
    columns: columns.map((c) => ({
      offsets: c.offsets,
      tags: Uint8Array.from(c.tags),
      vals: Float64Array.from(c.vals),
    })),
    total,
    first,
    slotBase: table.slotBase,
    slot: slots.slice(0, entries),
    cum: cums.slice(0, entries),
    ...(table.text ? { text: table.text } : {}),
    ...(table.codeOf ? { codeOf: table.codeOf } : {}),
  };
}
