/**
 * Byte strings (UTF-8 texts) interned as dense ids 0, 1, 2, … in the order they are first met.
 *
 * A unique count maps every dictionary code it meets to a process-wide id. Through a Map of strings that
 * costs a JavaScript string per code (decoded or sliced from the dictionary, then hashed and compared by
 * the Map, and kept alive by the dictionary's memo) — ~600 ns a code, most of a cold COUNT_UNIQUE at 10 M
 * events. Here the dictionary's own bytes are hashed and compared against one arena of the texts met so
 * far: no string is made unless a text is asked for (`text`), and a text costs its bytes plus ~16 bytes of
 * table, not a string object and a Map entry.
 *
 * Two texts get the same id exactly when their bytes are equal. Texts given as strings (`internText`) are
 * UTF-8 encoded first, so a well-formed string and its encoding meet at the same id (a lone surrogate
 * would encode as U+FFFD, but every text here was itself decoded from UTF-8).
 */

const encoder = new TextEncoder();
// ignoreBOM: a text that starts with U+FEFF keeps it (the default decoder would drop it).
const decoder = new TextDecoder("utf-8", { ignoreBOM: true });

/** 2^32 / golden ratio, odd: Fibonacci hashing spreads the hash's every bit into the slot index. */
const MIX = 0x9e3779b1;

export class Utf8Ids {
  /** Number of texts. */
  size = 0;
  /** The texts' bytes, back to back. */
  private arena = new Uint8Array(4096);
  /** ends[id]: where text id ends in the arena (it starts where text id - 1 ends). */
  private ends = new Int32Array(256);
  /** Slot i is [2i, 2i + 2): the text's hash and its id + 1 (0 = empty); length a power of two. */
  private slots = new Int32Array(2 * 512);
  private shift = 32 - 9;

  /** The id of the text `bytes[from, to)`, added when new. */
  intern(bytes: Uint8Array, from: number, to: number): number {
    let h = 0x811c9dc5 | 0;
    for (let k = from; k < to; k++) h = Math.imul(h ^ bytes[k]!, 0x01000193);
    const slots = this.slots;
    const mask = (slots.length >>> 1) - 1;
    const arena = this.arena;
    const ends = this.ends;
    const length = to - from;
    let i = Math.imul(h, MIX) >>> this.shift;
    for (;;) {
      const s = slots[2 * i + 1]!;
      if (s === 0) break;
      if (slots[2 * i] === h) {
        const id = s - 1;
        const end = ends[id]!;
        const start = id === 0 ? 0 : ends[id - 1]!;
        if (end - start === length) {
          let k = 0;
          while (k < length && arena[start + k] === bytes[from + k]) k++;
          if (k === length) return id;
        }
      }
      i = (i + 1) & mask;
    }
    return this.add(bytes, from, to, h, i);
  }

  /** The id of string `text` (its UTF-8 bytes), added when new. */
  internText(text: string): number {
    const bytes = encoder.encode(text);
    return this.intern(bytes, 0, bytes.length);
  }

  /** The text of id `id`. */
  text(id: number): string {
    return decoder.decode(this.arena.subarray(id === 0 ? 0 : this.ends[id - 1]!, this.ends[id]!));
  }

  /** Bytes held (arena, ends and slots), for memory bounds. */
  get bytes(): number {
    return this.arena.byteLength + this.ends.byteLength + this.slots.byteLength;
  }

  private add(bytes: Uint8Array, from: number, to: number, h: number, slot: number): number {
    const id = this.size++;
    const start = id === 0 ? 0 : this.ends[id - 1]!;
    const end = start + (to - from);
    if (end > this.arena.length) {
      const arena = new Uint8Array(Math.max(end, this.arena.length * 2));
      arena.set(this.arena.subarray(0, start));
      this.arena = arena;
    }
    this.arena.set(bytes.subarray(from, to), start);
    if (id === this.ends.length) {
      const ends = new Int32Array(this.ends.length * 2);
      ends.set(this.ends);
      this.ends = ends;
    }
    this.ends[id] = end;
    this.slots[2 * slot] = h;
    this.slots[2 * slot + 1] = id + 1;
    // Load ≤ 1/2 keeps linear probes short.
    if (this.size * 2 > this.slots.length >>> 1) this.grow();
    return id;
  }

  private grow(): void {
    const old = this.slots;
    const slots = new Int32Array(old.length * 2);
    const mask = (slots.length >>> 1) - 1;
    this.shift--;
    for (let j = 0; j < old.length; j += 2) {
      if (old[j + 1] === 0) continue;
      let i = Math.imul(old[j]!, MIX) >>> this.shift;
      while (slots[2 * i + 1] !== 0) i = (i + 1) & mask;
      slots[2 * i] = old[j]!;
      slots[2 * i + 1] = old[j + 1]!;
    }
    this.slots = slots;
  }
}
