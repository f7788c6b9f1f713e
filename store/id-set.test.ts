import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { IdSet } from "./id-set.ts";

/** Ids drawn from a few ranges, so sets go dense (bitset), stay sparse (hash) and move between the two. */
const ids = fc.array(
  fc.oneof(
    fc.integer({ min: 0, max: 40 }),
    fc.integer({ min: 0, max: 3000 }),
    fc.integer({ min: 0, max: 2 ** 31 - 2 }),
  ),
  { maxLength: 3000 },
);

function members(set: IdSet): number[] {
  const out: number[] = [];
  set.forEachId((id) => {
    out.push(id);
  });
  return out.sort((a, b) => a - b);
}

describe("IdSet", () => {
  it("agrees with a Set on every add, has, size and member list", () => {
    fc.assert(
      fc.property(ids, ids, fc.nat({ max: 100_000 }), (added, probed, idSpace) => {
        const set = new IdSet(idSpace);
        const naive = new Set<number>();
        for (const id of added) {
          expect(set.add(id)).toBe(!naive.has(id));
          naive.add(id);
          expect(set.size).toBe(naive.size);
        }
        for (const id of [...probed, ...added]) expect(set.has(id)).toBe(naive.has(id));
        expect(members(set)).toEqual([...naive].sort((a, b) => a - b));
      }),
      { numRuns: 300 },
    );
  });

  it("a bitset made with an id-space hint covers the whole space when that is no larger than the table", () => {
    const hinted = new IdSet(3000);
    const plain = new IdSet();
    // 600 ids spread over 0..1,499: a bitset once the table would reach 128 slots.
    for (let i = 0; i < 600; i++) {
      hinted.add((i * 737) % 1500);
      plain.add((i * 737) % 1500);
    }
    // 94 words cover ids 0..2,999 (hinted); 47 cover the members (plain).
    expect(hinted.bytes).toBe(94 * 4);
    expect(plain.bytes).toBe(47 * 4);
    hinted.add(2999);
    expect(hinted.bytes).toBe(94 * 4);
    expect(hinted.size).toBe(601);
  });

  it("a dense set becomes a bitset; a large id then turns it back into a hash table", () => {
    const set = new IdSet();
    for (let id = 0; id < 1000; id++) set.add(id);
    // 1,000 ids in 0..999: a bitset of 32 words, not a 2,048-slot table.
    expect(set.bytes).toBe(32 * 4);
    set.add(2 ** 30);
    expect(set.bytes).toBeLessThanOrEqual(4096 * 4);
    expect(set.size).toBe(1001);
    expect(set.has(2 ** 30)).toBe(true);
    expect(set.has(999)).toBe(true);
    expect(set.has(1000)).toBe(false);
  });

  it("memory stays within a small factor of the smaller representation", () => {
    fc.assert(
      fc.property(ids, fc.nat({ max: 100_000 }), (added, idSpace) => {
        const set = new IdSet(idSpace);
        for (const id of added) set.add(id);
        const maxId = Math.max(0, ...added);
        const hashBytes = 8 * Math.max(8, 2 ** Math.ceil(Math.log2(2 * (set.size + 1))));
        const bitsetBytes = 4 * ((maxId >>> 5) + 1);
        // A bitset made from a hash table may cover the id space in use (the hint) up to the size the
        // table would have grown to: at most twice the smallest table that holds the members.
        expect(set.bytes).toBeLessThanOrEqual(
          Math.max(4 * Math.min(hashBytes, bitsetBytes) + 64, 2 * hashBytes),
        );
      }),
      { numRuns: 200 },
    );
  });
});
