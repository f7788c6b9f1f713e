/**
 * A map from byte strings (UTF-8 texts) to int32 values, looked up by bytes in place: a unique count maps
 * each dictionary code it meets to a process-wide id by the dictionary's own bytes.
 *
 * Through a Map of strings that cost a JavaScript string per code (decoded or sliced from the dictionary,
 * hashed and compared by the Map, and kept alive by the dictionary's memo): ~600 ns a code, most of a
 * cold COUNT_UNIQUE at 10 M events. Here no string is made unless a text is asked for (`text`), and a
 * look-up touches two places: its slot (hash and where the text's record is) and the record (value,
 * length and bytes side by side), so a table bigger than the CPU caches costs two misses, not four.
 *
 * Two texts are the same key exactly when their bytes are equal. Texts given as strings (`internText`)
 * are UTF-8 encoded first, so a well-formed string and its encoding are one key (a lone surrogate would
 * encode as U+FFFD, but every text here was itself decoded from UTF-8).
 */

const encoder = new TextEncoder();
// ignoreBOM: a text that starts with U+FEFF keeps it (the default decoder would drop it).
const decoder = new TextDecoder("utf-8", { ignoreBOM: true });

/** FNV-1a of bytes[from, to), the hash `intern` computes (int32). */
export function utf8Hash(bytes: Uint8Array, from: number, to: number): number {
  let h = 0x811c9dc5 | 0;
  for (let k = from; k < to; k++) h = Math.imul(h ^ bytes[k]!, 0x01000193);
  return h;
}

/** 2^32 / golden ratio, odd: Fibonacci hashing spreads the hash's every bit into the slot index. */
export const MIX = 0x9e3779b1;
/** A record: value (int32), byte length (int32), the bytes, padding to a multiple of 4. */
const RECORD_HEAD = 8;

export class Utf8Map {
  /** Number of texts. */
  size = 0;
  /** Records back to back from offset 8 (offset 0 marks an empty slot); `words` views the same bytes. */
  private arena = new Uint8Array(4096);
  private words = new Int32Array(this.arena.buffer);
  private used = RECORD_HEAD;
  /** starts[n]: where the record of the n-th text added starts. */
  private starts = new Int32Array(256);
  /** Slot i is [2i, 2i + 2): the text's hash and its record's offset (0 = empty); length a power of two. */
  private slots: Int32Array = new Int32Array(2 * 512);
  private shift = 32 - 9;

  /** The value of the text `bytes[from, to)`; when it is new, it is added with value `value`. */
  intern(bytes: Uint8Array, from: number, to: number, value: number): number {
    return this.internHashed(bytes, from, to, utf8Hash(bytes, from, to), value);
  }

  /** `intern` with the text's hash `utf8Hash` already computed (as a caller walking the bytes can). */
  internHashed(bytes: Uint8Array, from: number, to: number, h: number, value: number): number {
    const slots = this.slots;
    const mask = (slots.length >>> 1) - 1;
    const arena = this.arena;
    const words = this.words;
    const length = to - from;
    let i = Math.imul(h, MIX) >>> this.shift;
    for (;;) {
      const at = slots[2 * i + 1]!;
      if (at === 0) break;
      if (slots[2 * i] === h && words[(at >>> 2) + 1] === length) {
        const base = at + RECORD_HEAD;
        let k = 0;
        while (k < length && arena[base + k] === bytes[from + k]) k++;
        if (k === length) return words[at >>> 2]!;
      }
      i = (i + 1) & mask;
    }
    this.add(bytes, from, to, value, h, i);
    return value;
  }

  /** `intern` for string `text` (its UTF-8 bytes). */
  internText(text: string, value: number): number {
    const bytes = encoder.encode(text);
    return this.intern(bytes, 0, bytes.length, value);
  }

  /** The text of the n-th text added (from 0). */
  text(n: number): string {
    const at = this.starts[n]!;
    return decoder.decode(
      this.arena.subarray(at + RECORD_HEAD, at + RECORD_HEAD + this.words[(at >>> 2) + 1]!),
    );
  }

  /** Bytes held (records, starts and slots), for memory bounds. */
  get bytes(): number {
    return this.arena.byteLength + this.starts.byteLength + this.slots.byteLength;
  }

  private add(bytes: Uint8Array, from: number, to: number, value: number, h: number, slot: number): void {
    const at = this.used;
    const end = at + RECORD_HEAD + (to - from);
    if (end > this.arena.length) {
      const arena = new Uint8Array(Math.max(end + 3, this.arena.length * 2) & ~3);
      arena.set(this.arena.subarray(0, at));
      this.arena = arena;
      this.words = new Int32Array(arena.buffer);
    }
    this.words[at >>> 2] = value;
    this.words[(at >>> 2) + 1] = to - from;
    this.arena.set(bytes.subarray(from, to), at + RECORD_HEAD);
    this.used = (end + 3) & ~3;
    if (this.size === this.starts.length) {
      const starts = new Int32Array(this.starts.length * 2);
      starts.set(this.starts);
      this.starts = starts;
    }
    this.starts[this.size++] = at;
    this.slots[2 * slot] = h;
    this.slots[2 * slot + 1] = at;
    // Load ≤ 1/2 keeps linear probes short.
    if (this.size * 2 > this.slots.length >>> 1) this.grow();
  }

  private grow(): void {
    this.shift--;
    this.slots = rehashSlots(this.slots, this.shift);
  }
}

/**
 * An open-addressing table of (hash, entry) int32 pairs, twice as large, for `shift` (32 − log2 of the new
 * slot count): the entries at the slots their hashes give, probing linearly. Entry 0 marks an empty slot.
 */
export function rehashSlots(old: Int32Array, shift: number): Int32Array {
  const slots = new Int32Array(old.length * 2);
  const mask = (slots.length >>> 1) - 1;
  for (let j = 0; j < old.length; j += 2) {
    if (old[j + 1] === 0) continue;
    let i = Math.imul(old[j]!, MIX) >>> shift;
    while (slots[2 * i + 1] !== 0) i = (i + 1) & mask;
    slots[2 * i] = old[j]!;
    slots[2 * i + 1] = old[j + 1]!;
  }
  return slots;
}
