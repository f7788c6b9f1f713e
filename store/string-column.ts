/** A column of strings as a segment stores them: UTF-8 bytes back to back, and where each one ends. */
const encoder = new TextEncoder();
// ignoreBOM: a string that starts with U+FEFF keeps it, as it was written (the default drops it: an id
// "\ufeffx" read back as "x" made its retry a new event and a distinct "x" a duplicate).
const decoder = new TextDecoder("utf-8", { ignoreBOM: true });

/** How many strings of a column (plus 1 in 64 of them) are decoded one by one before it is decoded whole. */
const DECODE_WHOLE_AFTER = 32;

/** Strings stored as UTF-8 bytes plus offsets; an all-ASCII blob is decoded once, not per string. */
export class StringColumn {
  readonly length: number;
  private whole?: string;
  /** Whether `whole` was tried: only once the column is read often enough to pay for decoding it all. */
  private wholeTried = false;
  private gets = 0;
  /** Decoded strings, kept when `memo` (dictionaries and ids are read again and again; data is not). */
  private cache: (string | undefined)[] | undefined;
  private index?: Map<string, number>;
  private lookups = 0;
  constructor(
    /** Where string i's UTF-8 bytes start (offsets[i]) and end (offsets[i + 1]) in `bytes`. */
    readonly offsets: Uint32Array,
    readonly bytes: Uint8Array,
    private readonly memo = true,
  ) {
    this.length = offsets.length - 1;
  }

  get(i: number): string {
    let s = this.cache?.[i];
    if (s === undefined) {
      // A few strings (a dictionary's group values, when a unique count maps its codes by their bytes)
      // are decoded one by one; a column read more is decoded whole.
      if (!this.wholeTried && ++this.gets > DECODE_WHOLE_AFTER + (this.length >>> 6)) this.decodeWhole();
      const from = this.offsets[i]!;
      const to = this.offsets[i + 1]!;
      s =
        this.whole !== undefined ? this.whole.slice(from, to) : decoder.decode(this.bytes.subarray(from, to));
      if (this.memo) {
        this.cache ??= new Array(this.length);
        this.cache[i] = s;
      }
    }
    return s;
  }

  private decodeWhole(): void {
    this.wholeTried = true;
    // Valid UTF-8 decodes to as many UTF-16 units as it has bytes only when every byte is ASCII; then
    // byte offsets are string offsets and one native decode serves every row.
    if (this.bytes.byteLength > 0) {
      const whole = decoder.decode(this.bytes);
      if (whole.length === this.bytes.byteLength) this.whole = whole;
    }
  }

  /**
   * The code of `value`, or -1 when the dictionary lacks it. The first few look-ups compare UTF-8 bytes
   * without decoding any string (a filter needs one or two codes per segment); a column asked often gets
   * a map.
   */
  indexOf(value: string): number {
    if (this.index) return this.index.get(value) ?? -1;
    if (++this.lookups > 8) {
      this.index = new Map();
      for (let i = 0; i < this.length; i++) this.index.set(this.get(i), i);
      return this.index.get(value) ?? -1;
    }
    const needle = encoder.encode(value);
    const { offsets, bytes } = this;
    outer: for (let i = 0; i < this.length; i++) {
      const from = offsets[i]!;
      if (offsets[i + 1]! - from !== needle.length) continue;
      for (let k = 0; k < needle.length; k++) if (bytes[from + k] !== needle[k]) continue outer;
      return i;
    }
    return -1;
  }
}
