/**
 * Group commit: concurrent submissions under one key that arrive while earlier ones are being committed
 * wait, then go together as one group — one commit (for the store: one segment per day and one fsync)
 * instead of one each. At most `maxInFlight` groups per key are committed at once, so that one group's
 * writes (fsyncs) overlap the next one's work; a key with nothing in flight commits a lone submission at
 * once, so grouping adds no delay at low load.
 *
 * The commit answers each member of its group in order, or fails, and then every member gets its error.
 */
export interface GroupCommitOptions<T> {
  /** Groups committed at once per key. */
  maxInFlight: number;
  /** A group takes waiting submissions in order while their total weight stays within this (always one). */
  maxWeight: number;
  weight: (item: T) => number;
}

interface Waiting<T, R> {
  item: T;
  resolve: (answer: R) => void;
  reject: (error: unknown) => void;
}

interface Lane<T, R> {
  waiting: Waiting<T, R>[];
  inFlight: number;
}

export class GroupCommit<T, R> {
  private readonly lanes = new Map<string, Lane<T, R>>();

  constructor(
    private readonly commit: (key: string, items: T[]) => Promise<R[]>,
    private readonly options: GroupCommitOptions<T>,
  ) {}

  submit(key: string, item: T): Promise<R> {
    let lane = this.lanes.get(key);
    if (!lane) {
      lane = { waiting: [], inFlight: 0 };
      this.lanes.set(key, lane);
    }
    const added = new Promise<R>((resolve, reject) => lane.waiting.push({ item, resolve, reject }));
    this.pump(key, lane);
    return added;
  }

  private pump(key: string, lane: Lane<T, R>): void {
    while (lane.inFlight < this.options.maxInFlight && lane.waiting.length > 0) {
      let weight = this.options.weight(lane.waiting[0]!.item);
      let take = 1;
      while (take < lane.waiting.length) {
        const next = this.options.weight(lane.waiting[take]!.item);
        if (weight + next > this.options.maxWeight) break;
        weight += next;
        take++;
      }
      const group = lane.waiting.splice(0, take);
      lane.inFlight++;
      this.run(key, group).finally(() =>
        // On the next turn of the event loop: the members just answered may submit again first (a
        // client sending its next batch), and join the next group instead of waiting for the one after.
        later(() => {
          lane.inFlight--;
          if (lane.inFlight === 0 && lane.waiting.length === 0) this.lanes.delete(key);
          else this.pump(key, lane);
        }),
      );
    }
  }

  private async run(key: string, group: Waiting<T, R>[]): Promise<void> {
    let answers: R[];
    try {
      answers = await this.commit(
        key,
        group.map((w) => w.item),
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
