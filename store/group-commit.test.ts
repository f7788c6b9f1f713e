import { describe, expect, it } from "vitest";
import { GroupCommit } from "./group-commit.ts";

/** A commit whose groups are recorded and finished by hand. */
function manual(maxPreparing = 1, maxWeight = 100) {
  const groups: { key: string; items: number[]; finish: (error?: Error) => void }[] = [];
  let inFlight = 0;
  let maxSeen = 0;
  const commits = new GroupCommit<number, string>(
    (key, items) =>
      new Promise((resolve, reject) => {
        inFlight++;
        maxSeen = Math.max(maxSeen, inFlight);
        groups.push({
          key,
          items,
          finish: (error) => {
            inFlight--;
            if (error) reject(error);
            else resolve(items.map((i) => `${key}:${i}:${items.length}`));
          },
        });
      }),
    { maxPreparing, maxWeight, weight: (n) => n },
  );
  return { commits, groups, maxSeen: () => maxSeen };
}
/** Lets pending promise reactions and the next event-loop turns run. */
const tick = async () => {
  for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
};

describe("group commit", () => {
  it("commits a lone submission at once and groups those that wait, in order, each with its own answer", async () => {
    const { commits, groups } = manual();
    const first = commits.submit("k", 1);
    expect(groups.map((g) => g.items)).toEqual([[1]]);
    const waiting = [commits.submit("k", 2), commits.submit("k", 3), commits.submit("k", 4)];
    expect(groups).toHaveLength(1);
    groups[0]!.finish();
    expect(await first).toBe("k:1:1");
    await tick();
    expect(groups.map((g) => g.items)).toEqual([[1], [2, 3, 4]]);
    groups[1]!.finish();
    expect(await Promise.all(waiting)).toEqual(["k:2:3", "k:3:3", "k:4:3"]);
  });

  it("lets a member answered resubmit before the next group forms", async () => {
    const { commits, groups } = manual();
    const first = commits.submit("k", 1).then(() => commits.submit("k", 5));
    const second = commits.submit("k", 2);
    groups[0]!.finish();
    await tick();
    expect(groups.map((g) => g.items)).toEqual([[1], [2, 5]]);
    groups[1]!.finish();
    expect(await Promise.all([first, second])).toEqual(["k:5:2", "k:2:2"]);
  });

  it("fails every member of a failed group with its error, and no other group", async () => {
    const { commits, groups } = manual();
    const first = commits.submit("k", 1);
    const grouped = [commits.submit("k", 2), commits.submit("k", 3)];
    groups[0]!.finish();
    await first;
    await tick();
    const after = commits.submit("k", 4);
    const failure = new Error("disk full");
    groups[1]!.finish(failure);
    for (const member of grouped) await expect(member).rejects.toBe(failure);
    await tick();
    groups[2]!.finish();
    expect(await after).toBe("k:4:1");
  });

  it("keeps to maxPreparing per key and maxWeight per group (a heavy submission goes alone); keys are independent", async () => {
    const { commits, groups, maxSeen } = manual(2, 10);
    const all = [4, 5, 6, 3, 20, 1].map((n) => commits.submit("k", n));
    const other = commits.submit("j", 7);
    expect(groups.map((g) => [g.key, g.items])).toEqual([
      ["k", [4]],
      ["k", [5]],
      ["j", [7]],
    ]);
    for (let done = 0; done < 5; done++) {
      groups.find((g) => g.key === "k" && !("done" in g))!.finish();
      Object.assign(groups.find((g) => g.key === "k" && !("done" in g))!, { done: true });
      await tick();
    }
    groups.find((g) => g.key === "j")!.finish();
    await Promise.all([...all, other]);
    expect(groups.filter((g) => g.key === "k").map((g) => g.items)).toEqual([[4], [5], [6, 3], [20], [1]]);
    expect(maxSeen()).toBe(3);
  });

  it("prepares the next group while one writes", async () => {
    const writes: (() => void)[] = [];
    const done: (() => void)[] = [];
    const groups: number[][] = [];
    const commits = new GroupCommit<number, number>(
      (_, items, writing) => {
        groups.push(items);
        return new Promise((resolve) => {
          writes.push(writing);
          done.push(() => resolve(items));
        });
      },
      { maxPreparing: 1, maxWeight: 100, weight: () => 1 },
    );
    const answers = [1, 2, 3].map((n) => commits.submit("k", n));
    expect(groups).toEqual([[1]]);
    writes[0]!();
    await tick();
    // The first group writes; the next is prepared meanwhile, and the one after waits for it.
    expect(groups).toEqual([[1], [2, 3]]);
    const later = commits.submit("k", 4);
    await tick();
    expect(groups).toHaveLength(2);
    writes[1]!();
    await tick();
    expect(groups).toEqual([[1], [2, 3], [4]]);
    for (const finish of done) finish();
    expect(await Promise.all([...answers, later])).toEqual([1, 2, 3, 4]);
  });
});
