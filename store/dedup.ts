/**
 * Exactly-once counting of events recorded with the same id and time.
 *
 * Writers drop such duplicates against what the partition holds when they write, but two writers racing
 * each other (a client retry landing on another process while the first attempt is still being written)
 * can both store the event. So readers decide too: within a partition, an (id, time) pair counts only in the
 * segment that holds its first ingested copy (of equal instants, the first by name). Not simply the first
 * by name: a compaction's merged segment is named when it is written, after a racing retry's segment it did
 * not list, yet holds the earlier copy — and a page snapshot taken between the two must still see it.
 * Segments are sorted by (time, id), so the check is a merge of the time columns of segments whose time
 * ranges overlap — nothing at all when they do not.
 */
import type { Segment } from "./segment.ts";

/** For each segment (in name order), a mask of rows that repeat an earlier segment's event, or null. */
export function duplicateMasks(segments: readonly Segment[]): (Uint8Array | null)[] {
  const masks: (Uint8Array | null)[] = segments.map(() => null);
  // Only segments whose time ranges overlap can share an event: sweep them into overlapping clusters.
  const order = segments.map((_, i) => i).filter((i) => segments[i]!.count > 0);
  order.sort((a, b) => segments[a]!.minTime - segments[b]!.minTime);
  let cluster: number[] = [];
  let clusterEnd = Number.NEGATIVE_INFINITY;
  for (const i of order) {
    const segment = segments[i]!;
    if (segment.minTime > clusterEnd) {
      if (cluster.length > 1) markCluster(segments, cluster, masks);
      cluster = [];
    }
    cluster.push(i);
    clusterEnd = Math.max(clusterEnd, segment.maxTime);
  }
  if (cluster.length > 1) markCluster(segments, cluster, masks);
  return masks;
}

/**
 * A k-way merge of the clustered segments' time columns (each sorted) through a binary heap: O(n log k).
 * Within each run of equal times, an id held by several segments is marked in all but the one holding its
 * first ingested copy (of equal instants, the lowest index).
 */
function markCluster(segments: readonly Segment[], cluster: number[], masks: (Uint8Array | null)[]): void {
  const cursor = new Map<number, number>(cluster.map((i) => [i, 0]));
  const timeOf = (i: number) => segments[i]!.time[cursor.get(i)!]!;
  const less = (a: number, b: number) => timeOf(a) < timeOf(b) || (timeOf(a) === timeOf(b) && a < b);
  const heap: number[] = [];
  const push = (i: number) => {
    heap.push(i);
    for (let c = heap.length - 1; c > 0; ) {
      const p = (c - 1) >> 1;
      if (!less(heap[c]!, heap[p]!)) break;
      [heap[c], heap[p]] = [heap[p]!, heap[c]!];
      c = p;
    }
  };
  const pop = (): number => {
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      for (let p = 0; ; ) {
        const l = 2 * p + 1;
        const r = l + 1;
        let m = p;
        if (l < heap.length && less(heap[l]!, heap[m]!)) m = l;
        if (r < heap.length && less(heap[r]!, heap[m]!)) m = r;
        if (m === p) break;
        [heap[m], heap[p]] = [heap[p]!, heap[m]!];
        p = m;
      }
    }
    return top;
  };
  for (const i of cluster) push(i);
  while (heap.length > 0) {
    const first = pop();
    const time = timeOf(first);
    // Gather this time's rows from every segment: [segment, row] pairs, segments in ascending index.
    const run: [number, number][] = [];
    const take = (i: number) => {
      const seg = segments[i]!;
      let r = cursor.get(i)!;
      while (r < seg.count && seg.time[r] === time) run.push([i, r++]);
      cursor.set(i, r);
      if (r < seg.count) push(i);
    };
    take(first);
    while (heap.length > 0 && timeOf(heap[0]!) === time) take(pop());
    if (run.length < 2 || run.every(([i]) => i === run[0]![0])) continue;
    const holders = new Map<string, [number, number][]>();
    for (const [i, r] of run) {
      const id = segments[i]!.id(r);
      const rows = holders.get(id);
      if (rows) rows.push([i, r]);
      else holders.set(id, [[i, r]]);
    }
    const at = ([i, r]: [number, number]) => segments[i]!.ingested[r]!;
    for (const rows of holders.values()) {
      if (rows.length < 2) continue;
      let keep = rows[0]!;
      for (const row of rows)
        if (at(row) < at(keep) || (at(row) === at(keep) && row[0] < keep[0])) keep = row;
      for (const [i, r] of rows) {
        if (i === keep[0]) continue;
        const mask = masks[i] ?? new Uint8Array(segments[i]!.count);
        masks[i] = mask;
        mask[r] = 1;
      }
    }
  }
}

/** The first index whose value is ≥ t in a sorted array (values.length when none is). */
export function lowerBound(values: Float64Array | Uint32Array | Uint16Array, t: number): number {
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
