/**
 * What a segment's rollup added to a QuerySeries count, kept with the segment for the next query of the
 * same shape (a dashboard's refresh, a sliding "last 30 days").
 *
 * A segment never changes, so what it adds to a query is fixed by the query's shape within it: its types,
 * filters and group-by, the rollup table chosen and the cuts of its time span with which pieces are in
 * range. Bucket numbers are not part of it (a piece's bucket is looked up per query), so a range that moves
 * reuses every segment inside it. A segment read again from storage is a new object and starts empty; the
 * bytes kept count toward the segment cache's bound (`Segment.hold`) and go with their segment.
 */
import type { Segment } from "./segment.ts";

/** Per group of the query (its values, and the key the accumulator knows it by), events per piece. */
export interface SegmentCounts {
  keys: readonly string[];
  values: readonly (readonly string[])[];
  /** Group-major: counts[g * pieces + p]. */
  counts: Float64Array;
  pieces: number;
}

/** Shapes kept per segment, the most recently used last: a dashboard's charts, not every query ever made. */
const MAX_SHAPES = 16;
/** Counts larger than this (a group-by of many values) are computed each time rather than kept. */
const MAX_COUNTS = 1 << 16;

const kept = new WeakMap<Segment, Map<string, { counts: SegmentCounts; bytes: number }>>();

/** What `segment` added to a query of shape `shape` before, or undefined. */
export function keptCounts(segment: Segment, shape: string): SegmentCounts | undefined {
  const shapes = kept.get(segment);
  const found = shapes?.get(shape);
  if (!shapes || !found) return undefined;
  shapes.delete(shape);
  shapes.set(shape, found);
  return found.counts;
}

/** Keeps what `segment` added to a query of shape `shape`. */
export function keepCounts(segment: Segment, shape: string, counts: SegmentCounts): void {
  if (counts.counts.length > MAX_COUNTS) return;
  let shapes = kept.get(segment);
  // Two queries of one shape at once: the first to finish keeps its counts (they are the same).
  if (shapes?.has(shape)) return;
  if (!shapes) {
    shapes = new Map();
    kept.set(segment, shapes);
  }
  // Strings are counted at two bytes a character plus an object's overhead; the shape key too.
  let bytes = counts.counts.byteLength + shape.length * 2 + 64;
  for (let g = 0; g < counts.keys.length; g++) {
    bytes += 64 + counts.keys[g]!.length * 2;
    for (const v of counts.values[g]!) if (v !== counts.keys[g]) bytes += 32 + v.length * 2;
  }
  shapes.set(shape, { counts, bytes });
  segment.hold(bytes);
  if (shapes.size > MAX_SHAPES) {
    const [oldest, entry] = shapes.entries().next().value!;
    shapes.delete(oldest);
    segment.hold(-entry.bytes);
  }
}
