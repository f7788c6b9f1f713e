/**
 * Events' data prepared straight from the wire (functions/record-decoder.ts): each event's JSON text as
 * UTF-8 bytes and its flattened values, so that the segment encoder copies them instead of building JS
 * objects, stringifying them and walking them again (the three largest costs of ingest over HTTP).
 *
 * What it holds is exactly what the object path makes of the same data: the text is `JSON.stringify(data)`
 * and the values are what segment-encode.ts's walk pushes (flatten.ts's rules), in the walk's order — an
 * object's own value (its canonical text) before its children's, a key whose value holds nothing (an
 * empty array) still reaching its path. record-decoder.test.ts proves the text and the encoded segment
 * byte-equal to the object path's on fuzzed requests. The decoder leaves anything unusual to the object
 * path (duplicate keys, array-index keys, non-finite numbers, a leading byte order mark, merged fields).
 */
import { canonicalJson, type JsonValue } from "./json.ts";
import { MIX, rehashSlots, Utf8Map } from "./utf8-map.ts";

/** An entry that only reaches its path (a key whose value is an empty array): no value is pushed. */
export const TAG_VISIT = 255;

const decoder = new TextDecoder("utf-8", { ignoreBOM: true });
const strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const encoder = new TextEncoder();

/** The canonical text of the object whose JSON is json[from, to). */
function canonicalOf(json: Uint8Array, from: number, to: number): string {
  return canonicalJson(JSON.parse(decoder.decode(json.subarray(from, to))) as JsonValue);
}

/** bytes[from, to) as a key or value kept as written: valid UTF-8, no leading BOM; else undefined. */
function keptText(bytes: Uint8Array, from: number, to: number): string | undefined {
  if (to - from >= 3 && bytes[from] === 0xef && bytes[from + 1] === 0xbb && bytes[from + 2] === 0xbf)
    return undefined;
  let text: string;
  try {
    text = strict.decode(bytes.subarray(from, to));
  } catch {
    return undefined;
  }
  return text;
}

/** One request's events' data, as the encoder reads it. */
export interface PreparedData {
  /** Events held. */
  readonly events: number;
  /** Event i's JSON text is json[jsonEnd[i - 1] (0 for the first), jsonEnd[i]). */
  readonly json: Uint8Array;
  readonly jsonEnd: Uint32Array;
  /** Event i's values are entries [entryEnd[i - 1] (0 for the first), entryEnd[i]). */
  readonly entryEnd: Uint32Array;
  /** Per entry: its path (an index into `paths`), tag (segment-format.ts's TAG_*, or TAG_VISIT) and value. */
  readonly entryPath: Uint32Array;
  readonly entryTag: Uint8Array;
  /** A number, or for a string or object a text id (`text`). */
  readonly entryVal: Float64Array;
  /** Dotted path names, in order of first appearance. */
  readonly paths: readonly string[];
  /** Number of text ids. */
  readonly texts: number;
  /** A string value, or an object's canonical text (keys sorted at every level). */
  text(id: number): string;
  /** The texts as parts to send. */
  textParts(): TextParts;
  /** What validation checks per event: the deepest object or array (data itself is 1), keys and elements. */
  readonly depth: Uint16Array;
  readonly keys: Uint32Array;
}

/**
 * A PreparedData as plain arrays and strings, to send to another thread (structured clone) and read there
 * with `preparedFromParts`: only what the encoder reads, arrays cut to their lengths.
 */
export interface PreparedParts {
  json: Uint8Array;
  jsonEnd: Uint32Array;
  entryEnd: Uint32Array;
  entryPath: Uint32Array;
  entryTag: Uint8Array;
  entryVal: Float64Array;
  paths: string[];
  texts: TextParts;
}

/**
 * Text ids' texts, to send: string values as UTF-8 (`bytes[start, end)`, a copy of the part of the wire
 * holding them), and objects' canonical texts as strings (`start` -1 - k: objects[k]).
 */
export interface TextParts {
  bytes: Uint8Array;
  start: Int32Array;
  end: Int32Array;
  objects: string[];
}

/** A PreparedData's parts. */
export function preparedParts(p: PreparedData): PreparedParts {
  const events = p.events;
  const entries = events > 0 ? p.entryEnd[events - 1]! : 0;
  return {
    json: p.json.slice(0, events > 0 ? p.jsonEnd[events - 1]! : 0),
    jsonEnd: p.jsonEnd.slice(0, events),
    entryEnd: p.entryEnd.slice(0, events),
    entryPath: p.entryPath.slice(0, entries),
    entryTag: p.entryTag.slice(0, entries),
    entryVal: p.entryVal.slice(0, entries),
    paths: [...p.paths],
    texts: p.textParts(),
  };
}

/** The PreparedData whose parts these are (validation's figures are not sent: zero). */
export function preparedFromParts(parts: PreparedParts): PreparedData {
  const n = parts.jsonEnd.length;
  const { bytes, start, end, objects } = parts.texts;
  return {
    ...parts,
    textParts: () => parts.texts,
    events: n,
    texts: start.length,
    text: (id) => {
      const at = start[id]!;
      return at < 0 ? objects[-1 - at]! : decoder.decode(bytes.subarray(at, end[id]));
    },
    depth: new Uint16Array(n),
    keys: new Uint32Array(n),
  };
}

/** A path below the data: process-wide, as a path's name is a pure function of its parent's and its key. */
export class PathNode {
  children: Utf8Map | undefined;
  readonly kids: PathNode[] = [];
  /** The kid met at each key position of this path's objects last time: keys recur in the same order. */
  readonly byPosition: (PathNode | undefined)[] = [];
  /** The batch that last used this path, and the path's index in it. */
  batch = 0;
  index = 0;
  /** The object (a serial) that last had this key: met twice in one object, it is a duplicate. */
  seenIn = 0;
  constructor(
    readonly name: string,
    /** The key's UTF-8 bytes, and as JSON (`"key":`). */
    readonly key: Uint8Array,
    readonly jsonKey: Uint8Array,
  ) {}
}

/** Paths and canonical texts are remembered across requests, within these bounds (then forgotten at once). */
const MAX_PATHS = 2_000;
const MAX_CANONICAL = 20_000;
const newRoot = () => new PathNode("", new Uint8Array(0), new Uint8Array(0));
let root = newRoot();
let pathCount = 0;
let canonicalIds = new Utf8Map();
let canonicalTexts: string[] = [];
let batchSerial = 0;

/**
 * Builds a PreparedData, written to by the decoder as it reads: JSON bytes (`byte`, `key`, `jsonString`,
 * `number`), values (`entry`; an object's own entry gets its text id from `objectId` once its JSON is
 * written), paths (`child`). Not re-entrant, like the decoder.
 */
export class DataBuilder implements PreparedData {
  json = new Uint8Array(65536);
  jsonEnd: Uint32Array;
  entryEnd: Uint32Array;
  entryPath = new Uint32Array(4096);
  entryTag = new Uint8Array(4096);
  entryVal = new Float64Array(4096);
  paths: string[] = [];
  depth: Uint16Array;
  keys: Uint32Array;
  texts = 0;
  /** Bytes of JSON written. */
  at = 0;
  /** Entries written. */
  entries = 0;
  /** Events finished. */
  events = 0;
  private readonly serial = ++batchSerial;
  /** String values' hash table: slot i is [2i, 2i + 2), (utf8Hash, id + 1); 2^(32 - shift) slots. */
  private slots: Int32Array = new Int32Array(2 * 2048);
  private shift = 32 - 11;
  private strings = 0;
  private readonly objectIds = new Utf8Map();
  private readonly textOf: (string | undefined)[] = [];
  private wireStart = new Int32Array(256);
  private wireEnd = new Int32Array(256);

  /** `wire`: the request the string values are read from (kept for their texts). */
  constructor(private readonly wire: Uint8Array) {
    this.jsonEnd = new Uint32Array(1024);
    this.entryEnd = new Uint32Array(1024);
    this.depth = new Uint16Array(1024);
    this.keys = new Uint32Array(1024);
    if (pathCount > MAX_PATHS) {
      root = newRoot();
      pathCount = 0;
    }
    if (canonicalTexts.length > MAX_CANONICAL) {
      canonicalIds = new Utf8Map();
      canonicalTexts = [];
    }
  }

  /** The root of the data's paths. */
  get root(): PathNode {
    return root;
  }

  text(id: number): string {
    let text = this.textOf[id];
    if (text === undefined) {
      text = decoder.decode(this.wire.subarray(this.wireStart[id], this.wireEnd[id]));
      this.textOf[id] = text;
    }
    return text;
  }

  textParts(): TextParts {
    const n = this.texts;
    let lo = this.wire.length;
    let hi = 0;
    for (let id = 0; id < n; id++) {
      if (this.wireStart[id]! < 0) continue;
      lo = Math.min(lo, this.wireStart[id]!);
      hi = Math.max(hi, this.wireEnd[id]!);
    }
    const start = new Int32Array(n);
    const end = new Int32Array(n);
    const objects: string[] = [];
    for (let id = 0; id < n; id++) {
      if (this.wireStart[id]! < 0) {
        start[id] = -1 - objects.length;
        objects.push(this.textOf[id]!);
      } else {
        start[id] = this.wireStart[id]! - lo;
        end[id] = this.wireEnd[id]! - lo;
      }
    }
    return { bytes: this.wire.slice(lo, Math.max(lo, hi)), start, end, objects };
  }

  /** Ends an event's data: its text, values, depth and key count. */
  endEvent(depth: number, keys: number): void {
    const i = this.events++;
    if (i === this.jsonEnd.length) this.growEvents();
    this.jsonEnd[i] = this.at;
    this.entryEnd[i] = this.entries;
    this.depth[i] = depth;
    this.keys[i] = keys;
  }

  byte(b: number): void {
    if (this.at === this.json.length) this.growJson(1);
    this.json[this.at++] = b;
  }

  /**
   * `"…"` as JSON.stringify writes the string whose UTF-8 is bytes[from, to) (if they are not valid UTF-8,
   * `stringId` refuses them and the request goes the object way); returns the bytes' utf8Hash, as the
   * copy reads them once.
   */
  jsonString(bytes: Uint8Array, from: number, to: number): number {
    // At most 6 bytes out per byte in (\u00XX), plus the quotes.
    if (this.at + 6 * (to - from) + 2 > this.json.length) this.growJson(6 * (to - from) + 2);
    const out = this.json;
    let at = this.at;
    let h = 0x811c9dc5 | 0;
    out[at++] = 0x22;
    for (let i = from; i < to; i++) {
      const c = bytes[i]!;
      h = Math.imul(h ^ c, 0x01000193);
      if (c >= 0x20 && c !== 0x22 && c !== 0x5c) {
        out[at++] = c;
        continue;
      }
      out[at++] = 0x5c;
      const short = SHORT_ESCAPES[c];
      if (short !== undefined) out[at++] = short;
      else {
        // \u00XX with lowercase hex, as JSON.stringify writes other control characters.
        out[at++] = 0x75;
        out[at++] = 0x30;
        out[at++] = 0x30;
        out[at++] = HEX[c >>> 4]!;
        out[at++] = HEX[c & 15]!;
      }
    }
    out[at++] = 0x22;
    this.at = at;
    return h;
  }

  /** A finite number as JSON.stringify writes it (-0 as 0). */
  number(v: number): void {
    if (Number.isInteger(v) && v >= 0 && v < 1e9) {
      if (this.at + 10 > this.json.length) this.growJson(10);
      if (v < 10) {
        this.json[this.at++] = 0x30 + v;
        return;
      }
      let digits = 1;
      for (let x = v; x >= 10; x = Math.floor(x / 10)) digits++;
      let x = v;
      for (let k = this.at + digits - 1; k >= this.at; k--) {
        this.json[k] = 0x30 + (x % 10);
        x = Math.floor(x / 10);
      }
      this.at += digits;
      return;
    }
    const text = String(v + 0);
    if (this.at + text.length > this.json.length) this.growJson(text.length);
    for (let k = 0; k < text.length; k++) this.json[this.at++] = text.charCodeAt(k);
  }

  /**
   * The path of the key bytes[from, to), the `position`-th key of an object of `parent`'s path, or
   * undefined for a key the prepared form does not keep in place: invalid UTF-8 or a leading byte order
   * mark (the object decoder throws or drops it), `__proto__` (dropped), a digit first (JS objects put
   * array-index keys first).
   */
  child(
    parent: PathNode,
    position: number,
    bytes: Uint8Array,
    from: number,
    to: number,
  ): PathNode | undefined {
    const guess = parent.byPosition[position];
    if (guess !== undefined) {
      const key = guess.key;
      const length = to - from;
      if (key.length === length) {
        let i = 0;
        while (i < length && key[i] === bytes[from + i]) i++;
        if (i === length) return guess;
      }
    }
    // A request of ever new keys (within the limits, up to millions): left to the object path, which
    // keeps no tree of them.
    if (pathCount > 4 * MAX_PATHS) return undefined;
    parent.children ??= new Utf8Map();
    const kids = parent.kids;
    const n = parent.children.intern(bytes, from, to, kids.length);
    if (n === kids.length) {
      const first = to > from ? bytes[from]! : 0;
      const key = first >= 0x30 && first <= 0x39 ? undefined : keptText(bytes, from, to);
      // Refused keys stay known as refused (counted, so that the tree is still forgotten in time).
      pathCount++;
      if (key === undefined || key === "__proto__") {
        kids.push(undefined as unknown as PathNode);
        return undefined;
      }
      const bytesOfKey = bytes.slice(from, to);
      const jsonKey = encoder.encode(`${JSON.stringify(key)}:`);
      kids.push(new PathNode(parent === root ? key : `${parent.name}.${key}`, bytesOfKey, jsonKey));
    }
    const kid = kids[n];
    if (kid !== undefined) parent.byPosition[position] = kid;
    return kid;
  }

  /** Writes a key's JSON (`"key":`). */
  key(node: PathNode): void {
    const text = node.jsonKey;
    if (this.at + text.length > this.json.length) this.growJson(text.length);
    const out = this.json;
    let at = this.at;
    for (let i = 0; i < text.length; i++) out[at++] = text[i]!;
    this.at = at;
  }

  /** Adds a value of `node`'s path; returns the entry's index. */
  entry(node: PathNode, tag: number, val: number): number {
    if (node.batch !== this.serial) {
      node.batch = this.serial;
      node.index = this.paths.length;
      this.paths.push(node.name);
    }
    const k = this.entries++;
    if (k === this.entryPath.length) this.growEntries();
    this.entryPath[k] = node.index;
    this.entryTag[k] = tag;
    this.entryVal[k] = val;
    return k;
  }

  /**
   * The text id of the string value wire[from, to) whose utf8Hash is `h`; undefined when the prepared
   * form cannot keep it as it is: invalid UTF-8 (the object decoder throws) or a leading byte order mark
   * (dropped).
   */
  stringId(from: number, to: number, h: number): number | undefined {
    // Open addressing over (hash, id + 1) pairs; the texts stay in the wire buffer, compared there.
    const wire = this.wire;
    const length = to - from;
    const slots = this.slots;
    const mask = (slots.length >>> 1) - 1;
    let i = Math.imul(h, MIX) >>> this.shift;
    for (;;) {
      const held = slots[2 * i + 1]!;
      if (held === 0) break;
      if (slots[2 * i] === h) {
        const id = held - 1;
        const start = this.wireStart[id]!;
        if (this.wireEnd[id]! - start === length) {
          let k = 0;
          while (k < length && wire[start + k] === wire[from + k]) k++;
          if (k === length) return id;
        }
      }
      i = (i + 1) & mask;
    }
    for (let k = from; k < to; k++) {
      if (wire[k]! >= 0x80) {
        if (keptText(wire, from, to) === undefined) return undefined;
        break;
      }
    }
    const id = this.newId();
    this.wireStart[id] = from;
    this.wireEnd[id] = to;
    slots[2 * i] = h;
    slots[2 * i + 1] = id + 1;
    if (++this.strings * 2 > mask) this.growSlots();
    return id;
  }

  private growSlots(): void {
    this.shift--;
    this.slots = rehashSlots(this.slots, this.shift);
  }

  /**
   * The text id of the canonical text (keys sorted at every level) of the object whose JSON, as written
   * here, is json[from, to). The same JSON in this batch is one id; canonical texts are remembered
   * process-wide by that JSON, as the object path remembers them by its JSON.stringify text.
   */
  objectId(from: number, to: number): number {
    const id = this.objectIds.intern(this.json, from, to, this.texts);
    if (id === this.texts) {
      this.newId();
      // Only short texts are remembered process-wide (the object path's memo keeps those of ≤ 256 characters).
      if (to - from > 256) this.textOf[id] = canonicalOf(this.json, from, to);
      else {
        const known = canonicalIds.intern(this.json, from, to, canonicalTexts.length);
        if (known === canonicalTexts.length) canonicalTexts.push(canonicalOf(this.json, from, to));
        this.textOf[id] = canonicalTexts[known]!;
      }
      // Not a span of the wire: textParts sends it as a string.
      this.wireStart[id] = -1;
    }
    return id;
  }

  private newId(): number {
    const id = this.texts++;
    if (id === this.wireStart.length) {
      const start = new Int32Array(id * 2);
      const end = new Int32Array(id * 2);
      start.set(this.wireStart);
      end.set(this.wireEnd);
      [this.wireStart, this.wireEnd] = [start, end];
    }
    return id;
  }

  private growEvents(): void {
    const n = this.jsonEnd.length * 2;
    const grown = <T extends Uint32Array | Uint16Array>(a: T, make: (n: number) => T): T => {
      const b = make(n);
      b.set(a);
      return b;
    };
    this.jsonEnd = grown(this.jsonEnd, (k) => new Uint32Array(k));
    this.entryEnd = grown(this.entryEnd, (k) => new Uint32Array(k));
    this.depth = grown(this.depth, (k) => new Uint16Array(k));
    this.keys = grown(this.keys, (k) => new Uint32Array(k));
  }

  private growJson(need: number): void {
    const json = new Uint8Array(Math.max(this.json.length * 2, this.at + need));
    json.set(this.json.subarray(0, this.at));
    this.json = json;
  }

  private growEntries(): void {
    const n = this.entryPath.length * 2;
    const path = new Uint32Array(n);
    const tag = new Uint8Array(n);
    const val = new Float64Array(n);
    path.set(this.entryPath);
    tag.set(this.entryTag);
    val.set(this.entryVal);
    [this.entryPath, this.entryTag, this.entryVal] = [path, tag, val];
  }
}

const HEX = Array.from("0123456789abcdef", (c) => c.charCodeAt(0));
/** JSON.stringify's two-character escapes, by the byte escaped. */
const SHORT_ESCAPES: (number | undefined)[] = [];
for (const [c, e] of [
  [0x08, "b"],
  [0x09, "t"],
  [0x0a, "n"],
  [0x0c, "f"],
  [0x0d, "r"],
  [0x22, '"'],
  [0x5c, "\\"],
] as const)
  SHORT_ESCAPES[c] = e.charCodeAt(0);
