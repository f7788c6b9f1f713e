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
 * Memory: 4 bytes per code of a cached dictionary that a unique count has read (held weakly: it goes
 * with the segment), plus ~100–150 bytes per interned value (its text, its value key, map entries), at
 * most MAX_VALUES of them (~30–40 MB) before the next query starts a fresh table. A running query keeps
 * the table it started with, so its ids never change under it; a query with more distinct values than
 * that grows its table as far as it needs (its sets hold those values anyway).
 */
import { TAG_OBJECT } from "./segment-format.ts";

/** How many distinct values a table may reach before new queries start a fresh one. */
export const MAX_VALUES = 1 << 18;

export class ValueIds {
  private readonly strings = new Map<string, number>();
  private readonly objects = new Map<string, number>();
  private readonly numbers = new Map<number, number>();
  /** true, false and null by their value keys. */
  private readonly others = new Map<string, number>();
  /** The value key (fields.ts valueKey) of each id. */
  private readonly keys: string[] = [];
  /** Per dictionary (a segment's string dictionary or its type list): id + 1 of each code, 0 until met. */
  private readonly stringCodes = new WeakMap<object, Int32Array>();
  private readonly objectCodes = new WeakMap<object, Int32Array>();

  get size(): number {
    return this.keys.length;
  }

  /** The value key of id `id`. */
  key(id: number): string {
    return this.keys[id]!;
  }

  /** The id of the value a value key (fields.ts valueKey) names: `s`tring, `o`bject, `n`umber, or other. */
  ofKey(key: string): number {
    const kind = key[0];
    if (kind === "s") return this.ofText(this.strings, key.slice(1), "s");
    if (kind === "o") return this.ofText(this.objects, key.slice(1), "o");
    if (kind === "n") return this.ofNumber(Number(key.slice(1)));
    return this.ofText(this.others, key, "");
  }

  ofNumber(v: number): number {
    let id = this.numbers.get(v);
    if (id === undefined) {
      id = this.keys.length;
      this.numbers.set(v, id);
      this.keys.push(`n${v}`);
    }
    return id;
  }

  /** The id of a string (TAG_STRING) or object JSON text (TAG_OBJECT). */
  ofTagged(tag: number, text: string): number {
    return tag === TAG_OBJECT ? this.ofText(this.objects, text, "o") : this.ofText(this.strings, text, "s");
  }

  /**
   * The code table of dictionary `dict` (of `length` codes) for string values (TAG_STRING) or object
   * texts (TAG_OBJECT): entry c is the id + 1 of code c's value, 0 until `ofTagged` has been asked and
   * the caller has filled it in.
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

  private ofText(ids: Map<string, number>, text: string, prefix: string): number {
    let id = ids.get(text);
    if (id === undefined) {
      id = this.keys.length;
      ids.set(text, id);
      this.keys.push(`${prefix}${text}`);
    }
    return id;
  }
}

let shared = new ValueIds();

/** The table a new query uses: the shared one, or a fresh one once it holds MAX_VALUES values. */
export function valueIds(): ValueIds {
  if (shared.size >= MAX_VALUES) shared = new ValueIds();
  return shared;
}
