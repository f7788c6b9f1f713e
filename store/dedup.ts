/**
 * Exactly-once counting of events recorded with the same id and time.
 *
 * Writers drop such duplicates against what the partition holds when they write, but two writers racing
 * each other (a client retry landing on another process while the first attempt is still being written)
 * can both store the event. So readers decide too: within a partition, an (id, time) pair counts only once:
 * in the copy ingested first (of equal ones, the first segment's by name), so that a query as of any
 * instant after that counts it, whichever copies later writes and compactions hold. Segments are sorted
 * by (time, id), so the check is a merge of the time columns of segments whose time ranges overlap —
 * nothing at all when they do not.
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
 * Within each run of equal times, a row whose id an earlier segment (lower index) holds is marked.
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
    const mark = (i: number, r: number) => {
      const mask = masks[i] ?? new Uint8Array(segments[i]!.count);
      masks[i] = mask;
      mask[r] = 1;
    };
    // Per id: the copy that counts — the first ingested, then the first segment's. Not simply the first
    // segment's: a compaction that listed its partition before a racing retry was stored writes its merged
    // segment (the first copy, with its ingestion time) after the retry's, and a query as of an instant
    // between the two ingestions would then see the retry's copy as not yet ingested and the merged one
    // as a duplicate — the event counted nowhere.
    const holders = new Map<string, [segment: number, row: number, ingested: number]>();
    for (const [i, r] of run) {
      const id = segments[i]!.id(r);
      const ingested = segments[i]!.ingested[r]!;
      const holder = holders.get(id);
      if (holder === undefined) holders.set(id, [i, r, ingested]);
      else if (holder[0] === i) continue;
      else if (ingested < holder[2]) {
        mark(holder[0], holder[1]);
        holders.set(id, [i, r, ingested]);
      } else mark(i, r);
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
