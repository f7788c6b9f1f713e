/**
 * Values of unique counts as small integers, shared by the queries of a process, with each segment
 * dictionary's codes mapped to them once rather than once per query.
 *
 * A COUNT_UNIQUE query must tell the same value apart in every segment it reads, and each segment has
 * its own dictionary codes. Mapping a code to an id through a Map of strings costs ~120 ns, and it is
 * needed for nearly every row (a user appears about once per daily segment): ~40% of the query at 1 M
 * events. Here a dictionary's codes are mapped as they are met and the table is kept beside the
 * (immutable, cached) dictionary, so warm queries read an Int32Array instead.
 *
 * A string or object text is interned by its UTF-8 bytes (utf8-map.ts): a cold query maps each code
 * straight from the dictionary's bytes, making no JavaScript string for it.
 *
 * Memory: 4 bytes per code of a cached dictionary that a unique count has read (held weakly: it goes
 * with the segment), plus ~30–40 bytes per interned string (its bytes and table entries; its value key
 * too once a saved state has asked for it), ~100 bytes per number or other value (a Map entry and a
 * value key), at most MAX_VALUES values before the next query starts a fresh table. A running query keeps the table it started with, so its ids never change
 * under it; a query with more distinct values than that grows its table as far as it needs (its sets
 * hold those values anyway).
 */
import { TAG_OBJECT, TAG_STRING } from "./segment-format.ts";
import { Utf8Map } from "./utf8-map.ts";

/** How many distinct values a table may reach before new queries start a fresh one. */
export const MAX_VALUES = 1 << 18;

/** What an id's ref (its entry in `refs`) points into: its low two bits. */
const STRING = 0;
const OBJECT = 1;
const OTHER = 2;

export class ValueIds {
  /** The ids of string values and object JSON texts by their UTF-8 bytes (utf8-map.ts): no string per value. */
  private readonly strings = new Utf8Map();
  private readonly objects = new Utf8Map();
  private readonly numbers = new Map<number, number>();
  /** true, false and null by their value keys. */
  private readonly others = new Map<string, number>();
  /** The value keys of numbers and others. */
  private readonly otherKeys: string[] = [];
  /** The value keys of strings and objects asked for so far, by id. */
  private readonly textKeys: (string | undefined)[] = [];
  /** Per id: its local id << 2 | STRING, OBJECT or OTHER. */
  private refs = new Int32Array(256);
  private count = 0;
  /** Per dictionary (a segment's string dictionary or its type list): id + 1 of each code, 0 until met. */
  private readonly stringCodes = new WeakMap<object, Int32Array>();
  private readonly objectCodes = new WeakMap<object, Int32Array>();

  get size(): number {
    return this.count;
  }

  /** The value key (fields.ts valueKey) of id `id`. */
  key(id: number): string {
    const ref = this.refs[id]!;
    const local = ref >>> 2;
    const kind = ref & 3;
    if (kind === OTHER) return this.otherKeys[local]!;
    // Kept once made: a saved state (stepped queries) names the same values again and again.
    let key = this.textKeys[id];
    if (key === undefined) {
      key = kind === STRING ? `s${this.strings.text(local)}` : `o${this.objects.text(local)}`;
      this.textKeys[id] = key;
    }
    return key;
  }

  /** The id of the value a value key (fields.ts valueKey) names: `s`tring, `o`bject, `n`umber, or other. */
  ofKey(key: string): number {
    const kind = key[0];
    if (kind === "s") return this.ofTagged(TAG_STRING, key.slice(1));
    if (kind === "o") return this.ofTagged(TAG_OBJECT, key.slice(1));
    if (kind === "n") return this.ofNumber(Number(key.slice(1)));
    let id = this.others.get(key);
    if (id === undefined) {
      id = this.newId(OTHER, this.otherKeys.length);
      this.others.set(key, id);
      this.otherKeys.push(key);
    }
    return id;
  }

  ofNumber(v: number): number {
    let id = this.numbers.get(v);
    if (id === undefined) {
      id = this.newId(OTHER, this.otherKeys.length);
      this.numbers.set(v, id);
      this.otherKeys.push(`n${v}`);
    }
    return id;
  }

  /** The id of a string (TAG_STRING) or object JSON text (TAG_OBJECT). */
  ofTagged(tag: number, text: string): number {
    const texts = tag === TAG_OBJECT ? this.objects : this.strings;
    const id = texts.internText(text, this.count);
    if (id === this.count) this.newId(tag === TAG_OBJECT ? OBJECT : STRING, texts.size - 1);
    return id;
  }

  /**
   * ofTagged for a text given as its UTF-8 bytes `bytes[from, to)` — a dictionary's own bytes, so that
   * no string is made for it.
   */
  ofUtf8(tag: number, bytes: Uint8Array, from: number, to: number): number {
    const texts = tag === TAG_OBJECT ? this.objects : this.strings;
    const id = texts.intern(bytes, from, to, this.count);
    if (id === this.count) this.newId(tag === TAG_OBJECT ? OBJECT : STRING, texts.size - 1);
    return id;
  }

  /**
   * The code table of dictionary `dict` (of `length` codes) for string values (TAG_STRING) or object
   * texts (TAG_OBJECT): entry c is the id + 1 of code c's value, 0 until `ofTagged` or `ofUtf8` has been
   * asked and the caller has filled it in.
   */
  codes(dict: object, length: number, tag: number): Int32Array {
    const tables = tag === TAG_OBJECT ? this.objectCodes : this.stringCodes;
    let table = tables.get(dict);
    if (!table || table.length < length) {
      table = new Int32Array(length);
      tables.set(dict, table);
    }
    return table;
  }

  /** Gives the next id to local value `local` of `kind` (the n-th string, object or other value). */
  private newId(kind: number, local: number): number {
    const id = this.count++;
    if (id === this.refs.length) {
      const refs = new Int32Array(this.refs.length * 2);
      refs.set(this.refs);
      this.refs = refs;
    }
    this.refs[id] = (local << 2) | kind;
    return id;
  }
}

let shared = new ValueIds();

/** The table a new query uses: the shared one, or a fresh one once it holds MAX_VALUES values. */
export function valueIds(): ValueIds {
  if (shared.size >= MAX_VALUES) shared = new ValueIds();
  return shared;
}
