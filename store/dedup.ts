/**
 * Exactly-once counting of events recorded with the same id and time.
 *
 * Writers drop such duplicates against what the partition holds when they write, but two writers racing
 * each other (a client retry landing on another process while the first attempt is still being written)
 * can both store the event. So readers decide too: within a partition, an (id, time) pair counts only in the
 * first segment (by name) that holds it. Segments are sorted by (time, id), so the check is a merge of the
 * time columns of segments whose time ranges overlap — nothing at all when they do not.
 */
import type { Segment } from "./segment-format.ts";

/** For each segment (in name order), a mask of rows that repeat an earlier segment's event, or null. */
export function duplicateMasks(segments: readonly Segment[]): (Uint8Array | null)[] {
  return segments.map((later, j) => {
    let mask: Uint8Array | null = null;
    for (let i = 0; i < j; i++) {
      const earlier = segments[i]!;
      if (earlier.count === 0 || later.count === 0) continue;
      if (earlier.maxTime < later.minTime || later.maxTime < earlier.minTime) continue;
      mask = markRepeats(earlier, later, mask);
    }
    return mask;
  });
}

function markRepeats(earlier: Segment, later: Segment, mask: Uint8Array | null): Uint8Array | null {
  const a = earlier.time;
  const b = later.time;
  let i = lowerBound(a, later.minTime);
  let j = lowerBound(b, earlier.minTime);
  while (i < a.length && j < b.length) {
    const ta = a[i]!;
    const tb = b[j]!;
    if (ta < tb) i++;
    else if (tb < ta) j++;
    else {
      // Rows of equal time: compare every id pair (runs of equal times are short).
      let iEnd = i;
      while (iEnd < a.length && a[iEnd] === ta) iEnd++;
      let jEnd = j;
      while (jEnd < b.length && b[jEnd] === tb) jEnd++;
      for (let y = j; y < jEnd; y++) {
        const id = later.id(y);
        for (let x = i; x < iEnd; x++) {
          if (earlier.id(x) === id) {
            mask ??= new Uint8Array(later.count);
            mask[y] = 1;
            break;
          }
        }
      }
      i = iEnd;
      j = jEnd;
    }
  }
  return mask;
}

/** The first index whose value is ≥ t in a sorted array. */
export function lowerBound(values: Float64Array, t: number): number {
  let lo = 0;
  let hi = values.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (values[mid]! < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Whether `segment` holds an event with this id and time. */
export function holds(segment: Segment, id: string, time: number): boolean {
  if (time < segment.minTime || time > segment.maxTime) return false;
  for (let r = lowerBound(segment.time, time); r < segment.count && segment.time[r] === time; r++) {
    if (segment.id(r) === id) return true;
  }
  return false;
}
