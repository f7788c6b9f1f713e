/**
 * A set of small non-negative integers (the interned value ids of a unique count), for one bucket of one
 * group. It is an open-addressing hash table while the set is sparse in the id space and a bitset once that
 * is smaller, so it costs about min(8 bytes per member, one bit per id) — never a JavaScript Set's ~40 bytes
 * per member, nor a per-row allocation.
 */

/** Linear probing stays short at load ≤ 1/2. */
const MIN_SLOTS = 8;
/** 2^32 / golden ratio, odd. */
const HASH = 0x9e3779b1;

export class IdSet {
  /** Number of members. */
  size = 0;
  /** Hash slots holding id + 1 (0 = empty), length a power of two; undefined while a bitset. */
  private slots: Int32Array | undefined = new Int32Array(MIN_SLOTS);
  /** 32 - log2(slots.length): Fibonacci hashing takes the product's top bits, which mix every bit of the id. */
  private shift = 32 - Math.log2(MIN_SLOTS);
  /** The largest member while a hash table (what a bitset would have to cover). */
  private maxId = 0;

  /**
   * `idSpace`: how many ids are in use when the set is made (a hint). A bitset made from the table covers
   * them all when it can at no more than the table's size, so later members rarely make it grow.
   */
  constructor(private readonly idSpace = 0) {}
  /** Bit id of word id >>> 5; undefined while a hash table. */
  private bits: Int32Array | undefined;

  /** Adds `id` (0 ≤ id < 2^31 - 1); returns whether it was new. */
  add(id: number): boolean {
    const bits = this.bits;
    if (bits !== undefined) {
      const w = id >>> 5;
      if (w < bits.length) {
        const mask = 1 << (id & 31);
        const word = bits[w]!;
        if ((word & mask) !== 0) return false;
        bits[w] = word | mask;
        this.size++;
        return true;
      }
      this.growBits(w);
      return this.add(id);
    }
    const slots = this.slots!;
    const m = slots.length - 1;
    const stored = id + 1;
    for (let i = Math.imul(id, HASH) >>> this.shift; ; i = (i + 1) & m) {
      const s = slots[i]!;
      if (s === stored) return false;
      if (s === 0) {
        slots[i] = stored;
        if (id > this.maxId) this.maxId = id;
        if (++this.size * 2 > slots.length) this.growSlots();
        return true;
      }
    }
  }

  has(id: number): boolean {
    const bits = this.bits;
    if (bits !== undefined) {
      const w = id >>> 5;
      return w < bits.length && (bits[w]! & (1 << (id & 31))) !== 0;
    }
    const slots = this.slots!;
    const m = slots.length - 1;
    for (let i = Math.imul(id, HASH) >>> this.shift; ; i = (i + 1) & m) {
      const s = slots[i]!;
      if (s === id + 1) return true;
      if (s === 0) return false;
    }
  }

  /** Calls `fn` once per member (in no particular order). */
  forEachId(fn: (id: number) => void): void {
    if (this.bits !== undefined) {
      const bits = this.bits;
      for (let w = 0; w < bits.length; w++) {
        let word = bits[w]!;
        while (word !== 0) {
          const low = word & -word;
          fn(w * 32 + 31 - Math.clz32(low));
          word ^= low;
        }
      }
      return;
    }
    for (const s of this.slots!) if (s !== 0) fn(s - 1);
  }

  /** Bytes held by the members' storage (for tests and memory bounds). */
  get bytes(): number {
    return (this.bits ?? this.slots!).byteLength;
  }

  /** The hash table doubles; it becomes a bitset instead when one covering every member is no larger. */
  private growSlots(): void {
    const old = this.slots!;
    let words = (this.maxId >>> 5) + 1;
    // Small tables grow fourfold: fewer rehashes and allocations on the way up, at a load still ≥ 1/8.
    const target = old.length * (old.length < 1024 ? 4 : 2);
    if (words <= target) {
      const spaceWords = this.idSpace > 0 ? ((this.idSpace - 1) >>> 5) + 1 : 0;
      words = Math.max(words, Math.min(target, spaceWords));
      const bits = new Int32Array(words);
      for (const s of old) if (s !== 0) bits[(s - 1) >>> 5]! |= 1 << ((s - 1) & 31);
      this.bits = bits;
      this.slots = undefined;
      return;
    }
    this.rehash(old, target);
  }

  /**
   * The bitset must reach word `w`: it grows (at least doubling, so growth is amortised), unless a hash
   * table would then be less than half its size — sparse members of a large id space go back to hashing.
   */
  private growBits(w: number): void {
    const old = this.bits!;
    const words = Math.max(w + 1, old.length * 2);
    let slots = MIN_SLOTS;
    while (slots < (this.size + 1) * 2) slots *= 2;
    if (slots * 2 < words) {
      this.bits = undefined;
      this.slots = new Int32Array(slots);
      this.shift = 32 - Math.log2(slots);
      this.size = 0;
      this.maxId = 0;
      for (let i = 0; i < old.length; i++) {
        let word = old[i]!;
        while (word !== 0) {
          const low = word & -word;
          this.add(i * 32 + 31 - Math.clz32(low));
          word ^= low;
        }
      }
      return;
    }
    const bits = new Int32Array(words);
    bits.set(old);
    this.bits = bits;
  }

  private rehash(old: Int32Array, length: number): void {
    const slots = new Int32Array(length);
    const m = length - 1;
    const shift = 32 - Math.log2(length);
    for (const s of old) {
      if (s === 0) continue;
      let i = Math.imul(s - 1, HASH) >>> shift;
      while (slots[i] !== 0) i = (i + 1) & m;
      slots[i] = s;
    }
    this.slots = slots;
    this.shift = shift;
  }
}
