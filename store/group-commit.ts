/**
 * Group commit: concurrent submissions under one key that arrive while an earlier group is being prepared
 * wait, then go together as the next group — one commit (for the store: one duplicate check per
 * partition, one segment per day, one write and fsync) instead of one each. At most `maxPreparing` groups
 * per key are prepared at once; a group that has started writing (its commit calls `writing()`) no longer
 * counts, so the next group's work overlaps its fsync. A key with nothing being prepared commits a lone
 * submission at once, so grouping adds no delay at low load.
 *
 * The commit answers each member of its group in order, or fails, and then every member gets its error.
 */
export interface GroupCommitOptions<T> {
  /** Groups being prepared (not yet writing) at once per key. */
  maxPreparing: number;
  /** A group takes waiting submissions in order while their total weight stays within this (always one). */
  maxWeight: number;
  weight: (item: T) => number;
}

/** Commits a group; calls `writing()` when its preparation is done and it starts writing (if it does). */
export type Commit<T, R> = (key: string, items: T[], writing: () => void) => Promise<R[]>;

interface Waiting<T, R> {
  item: T;
  resolve: (answer: R) => void;
  reject: (error: unknown) => void;
}

interface Lane<T, R> {
  waiting: Waiting<T, R>[];
  preparing: number;
}

export class GroupCommit<T, R> {
  private readonly lanes = new Map<string, Lane<T, R>>();

  constructor(
    private readonly commit: Commit<T, R>,
    private readonly options: GroupCommitOptions<T>,
  ) {}

  submit(key: string, item: T): Promise<R> {
    let lane = this.lanes.get(key);
    if (!lane) {
      lane = { waiting: [], preparing: 0 };
      this.lanes.set(key, lane);
    }
    const added = new Promise<R>((resolve, reject) => lane.waiting.push({ item, resolve, reject }));
    this.pump(key, lane);
    return added;
  }

  private pump(key: string, lane: Lane<T, R>): void {
    while (lane.preparing < this.options.maxPreparing && lane.waiting.length > 0) {
      let weight = this.options.weight(lane.waiting[0]!.item);
      let take = 1;
      while (take < lane.waiting.length) {
        const next = this.options.weight(lane.waiting[take]!.item);
        if (weight + next > this.options.maxWeight) break;
        weight += next;
        take++;
      }
      const group = lane.waiting.splice(0, take);
      lane.preparing++;
      let released = false;
      // The slot frees when the group starts writing (or ends), on the next turn of the event loop: calls
      // arriving meanwhile (a member just answered, sending its next batch) join the next group rather
      // than each starting one of its own.
      const release = () => {
        if (released) return;
        released = true;
        later(() => {
          lane.preparing--;
          if (lane.preparing === 0 && lane.waiting.length === 0) this.lanes.delete(key);
          else this.pump(key, lane);
        });
      };
      this.run(key, group, release).finally(release);
    }
  }

  private async run(key: string, group: Waiting<T, R>[], writing: () => void): Promise<void> {
    let answers: R[];
    try {
      answers = await this.commit(
        key,
        group.map((w) => w.item),
        writing,
      );
      if (answers.length !== group.length) throw new Error("group commit: one answer per member expected");
    } catch (error) {
      for (const w of group) w.reject(error);
      return;
    }
    for (let i = 0; i < group.length; i++) group[i]!.resolve(answers[i]!);
  }
}

/** Runs `fn` after pending I/O callbacks and promise reactions (setImmediate where there is one). */
const later: (fn: () => void) => void =
  typeof (globalThis as { setImmediate?: unknown }).setImmediate === "function"
    ? (fn) => (globalThis as unknown as { setImmediate: (fn: () => void) => void }).setImmediate(fn)
    : (fn) => setTimeout(fn, 0);
