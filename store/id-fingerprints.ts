/**
 * A hash set of (id, time) fingerprints, each naming the segment that holds it: what a writer's duplicate
 * check looks up instead of reading every segment of the partition (see partition-ids.ts).
 *
 * A fingerprint is 64 bits from two independent 32-bit hashes, kept in typed arrays (12 bytes a slot, no
 * object per event). A hit is only a candidate: the writer confirms it in the named segment, so a
 * collision can cost a read but never drops an event; and since a slot names only the latest segment to
 * add its fingerprint, a hit that segment does not hold is searched for in the partition's segments.
 */

/** The two 32-bit halves of the last `fingerprint` call (read them before the next call). */
export const hashed = { a: 0, b: 0 };

/** Hashes (id, time) into `hashed.a` and `hashed.b`; `a` and `b` are never both 0 (0, 0 marks empty). */
export function fingerprint(id: string, time: number): void {
  // FNV-1a and a multiply-rotate hash over the UTF-16 units, then the time's two 32-bit words mixed in.
  let a = 0x811c9dc5;
  let b = 0x9e3779b9 ^ id.length;
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x85ebca6b);
    b = (b << 13) | (b >>> 19);
  }
  // The time's exact bits: sub-millisecond times must not collide either.
  timeBits[0] = time === 0 ? 0 : time; // -0 and 0 are the same time
  const low = timeWords[0]!;
  const high = timeWords[1]!;
  a = mix(a ^ low ^ Math.imul(high, 0x27d4eb2d));
  b = mix(b ^ Math.imul(low, 0x165667b1) ^ high);
  hashed.a = a >>> 0;
  hashed.b = (a === 0 && b === 0 ? 1 : b) >>> 0;
}

const timeBits = new Float64Array(1);
const timeWords = new Uint32Array(timeBits.buffer);

/** murmur3's finaliser: every input bit affects every output bit. */
function mix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

export class FingerprintSet {
  private a: Uint32Array;
  private b: Uint32Array;
  private owner: Uint32Array;
  private mask: number;
  size = 0;

  constructor(expected = 1024) {
    let capacity = 64;
    while (capacity < expected * 2) capacity *= 2;
    this.a = new Uint32Array(capacity);
    this.b = new Uint32Array(capacity);
    this.owner = new Uint32Array(capacity);
    this.mask = capacity - 1;
  }

  /** Bytes held by the table. */
  get bytes(): number {
    return this.a.byteLength * 3;
  }

  /** Records that segment `owner` holds the fingerprint in `hashed`; a later owner replaces an earlier one. */
  add(owner: number): void {
    if ((this.size + 1) * 2 > this.a.length) this.grow();
    const { a, b } = hashed;
    let i = a & this.mask;
    while (this.a[i] !== 0 || this.b[i] !== 0) {
      if (this.a[i] === a && this.b[i] === b) {
        this.owner[i] = owner;
        return;
      }
      i = (i + 1) & this.mask;
    }
    this.a[i] = a;
    this.b[i] = b;
    this.owner[i] = owner;
    this.size++;
  }

  /** The owner of the fingerprint in `hashed`, or -1 when the set lacks it. */
  find(): number {
    const { a, b } = hashed;
    for (let i = a & this.mask; this.a[i] !== 0 || this.b[i] !== 0; i = (i + 1) & this.mask) {
      if (this.a[i] === a && this.b[i] === b) return this.owner[i]!;
    }
    return -1;
  }

  private grow(): void {
    const [oldA, oldB, oldOwner] = [this.a, this.b, this.owner];
    const capacity = oldA.length * 2;
    this.a = new Uint32Array(capacity);
    this.b = new Uint32Array(capacity);
    this.owner = new Uint32Array(capacity);
    this.mask = capacity - 1;
    for (let j = 0; j < oldA.length; j++) {
      const a = oldA[j]!;
      const b = oldB[j]!;
      if (a === 0 && b === 0) continue;
      let i = a & this.mask;
      while (this.a[i] !== 0 || this.b[i] !== 0) i = (i + 1) & this.mask;
      this.a[i] = a;
      this.b[i] = b;
      this.owner[i] = oldOwner[j]!;
    }
  }
}
