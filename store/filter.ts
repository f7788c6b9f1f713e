/**
 * Filters compiled against one segment: either a constant (so a whole segment is skipped or taken without
 * looking at its rows) or a row predicate over the field's value columns.
 */
import { encodeOperand, type FieldColumn, fieldColumn } from "./fields.ts";
import type { FilterSpec } from "./query-spec.ts";
import type { Segment } from "./segment.ts";
import { TAG_NUMBER, TAG_STRING } from "./segment-format.ts";

export type RowPredicate = (row: number) => boolean;
export type CompiledFilter = boolean | RowPredicate;

export function compileFilter(segment: Segment, filter: FilterSpec): CompiledFilter {
  return compileColumnFilter(fieldColumn(segment, filter.field), filter);
}

/** The filter over a column of reached values (a segment's rows or a rollup's entries), or none. */
export function compileColumnFilter(column: FieldColumn | undefined, filter: FilterSpec): CompiledFilter {
  switch (filter.op) {
    case "exists":
      return column ? (r) => column.offsets[r + 1]! > column.offsets[r]! : false;
    case "not_exists":
      return column ? (r) => column.offsets[r + 1] === column.offsets[r] : true;
    case "eq":
      return column ? equalsAny(column, filter) : false;
    case "neq": {
      const eq = column ? equalsAny(column, filter) : false;
      return typeof eq === "boolean" ? !eq : (r) => !eq(r);
    }
    case "contains":
      return column ? containsAny(column, filter) : false;
    default:
      return column ? compare(column, filter) : false;
  }
}

function equalsAny(column: FieldColumn, filter: FilterSpec): CompiledFilter {
  const wanted = new Map<number, Set<number>>();
  for (const value of filter.values) {
    const operand = encodeOperand(column, value);
    if (!operand) continue;
    const [tag, val] = operand;
    const set = wanted.get(tag) ?? new Set<number>();
    wanted.set(tag, set);
    set.add(val);
  }
  if (wanted.size === 0) return false;
  const { offsets, tags, vals } = column;
  const strings = wanted.size === 1 ? wanted.get(TAG_STRING) : undefined;
  if (strings?.size === 1) {
    // The commonest filter, `field = "text"`: one dictionary code to compare with.
    const code = strings.values().next().value!;
    return (r) => {
      for (let k = offsets[r]!, end = offsets[r + 1]!; k < end; k++) {
        if (vals[k] === code && tags[k] === TAG_STRING) return true;
      }
      return false;
    };
  }
  if (strings) {
    return (r) => {
      for (let k = offsets[r]!, end = offsets[r + 1]!; k < end; k++) {
        if (tags[k] === TAG_STRING && strings.has(vals[k]!)) return true;
      }
      return false;
    };
  }
  return (r) => {
    for (let k = offsets[r]!, end = offsets[r + 1]!; k < end; k++) {
      if (wanted.get(tags[k]!)?.has(vals[k]!)) return true;
    }
    return false;
  };
}

function containsAny(column: FieldColumn, filter: FilterSpec): CompiledFilter {
  const needles = filter.values.map((v) => String(v).toLowerCase());
  const memo = new Map<number, boolean>();
  const { offsets, tags, vals } = column;
  return (r) => {
    for (let k = offsets[r]!, end = offsets[r + 1]!; k < end; k++) {
      if (tags[k] !== TAG_STRING) continue;
      const code = vals[k]!;
      let hit = memo.get(code);
      if (hit === undefined) {
        const text = column.text(code).toLowerCase();
        hit = needles.some((n) => text.includes(n));
        memo.set(code, hit);
      }
      if (hit) return true;
    }
    return false;
  };
}

function compare(column: FieldColumn, filter: FilterSpec): CompiledFilter {
  const x = filter.values[0] as number;
  const test: (v: number) => boolean =
    filter.op === "gt"
      ? (v) => v > x
      : filter.op === "gte"
        ? (v) => v >= x
        : filter.op === "lt"
          ? (v) => v < x
          : (v) => v <= x;
  const { offsets, tags, vals } = column;
  return (r) => {
    for (let k = offsets[r]!, end = offsets[r + 1]!; k < end; k++) {
      if (tags[k] === TAG_NUMBER && test(vals[k]!)) return true;
    }
    return false;
  };
}
