/**
 * A hand-written decoder of `telemetry.v1.RecordEventsRequest` from the protobuf binary wire format, for the
 * ingest fast path (record-fast-path.ts). @bufbuild/protobuf decodes a `google.protobuf.Struct` through its
 * generic reflection and then converts it to JSON, which caps ingest at ~50 k events/s; this reads the
 * wire straight into what the store keeps (see `decodeRecordRequest`'s prepared mode).
 *
 * It returns what `fromBinary(RecordEventsRequestSchema, bytes)` returns — the same messages (with their
 * `$typeName`), minus `$unknown` (unknown fields are skipped, not kept) — and it throws exactly when
 * `fromBinary` throws. record-decoder.test.ts checks both against the library on random requests and on
 * random mutations of them. What it reproduces, deliberately, quirks included (protobuf-es 2.13):
 *
 * - Known fields are read by their declared type whatever the tag's wire type says; only unknown fields
 *   are skipped by wire type (groups too, with the remaining recursion budget; a stray end-group tag
 *   throws).
 * - A sub-message's length only bounds its field loop: a last field that runs past it is not an error,
 *   and the parent continues where that field ended. Reads past the end of the input throw.
 * - Varints as protobuf-es reads them: 32-bit ones keep the low 32 bits of up to 10 bytes (so a negative
 *   int32 such as `nanos` arrives sign-extended in 10 bytes), 64-bit ones throw past 10 bytes, tags
 *   longer than 5 bytes or above 2^32 throw, field number 0 and wire types 6 and 7 throw.
 * - int64 `seconds` as a bigint; doubles little-endian, every bit pattern (NaN, ±Infinity, -0) kept.
 * - Strings are validated UTF-8 (proto3 fields verify it): invalid UTF-8 throws; a leading byte order
 *   mark is kept (as protobuf-es does once text-encoding.ts configures it).
 * - Singular fields: the last occurrence wins; a message field seen twice is merged (two `location`s
 *   merge lat and lon; two `data`s add up their keys, later keys winning; a Value's `struct_value` or
 *   `list_value` seen twice merges too, unless another kind came in between).
 * - `Struct.fields` map entries: a missing key is "", a missing value is null, a later duplicate key
 *   replaces the earlier one in its original position, and the key `__proto__` is dropped (protobuf-es
 *   assigns it to a plain object, which sets the prototype instead). Inside an entry, fields other than
 *   key and value are not skipped: protobuf-es goes on reading their payload as tags, and so does this.
 * - A Value with no kind set is null.
 * - Nesting: the request is depth 1, each nested message one more (data's Struct is 3, each JSON level
 *   adds 2); a message deeper than 100 throws.
 */
import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import type { Event, Location, RecordEventsRequest } from "../proto/gen/telemetry/v1/telemetry_pb.ts";
import { DataBuilder, type PathNode, type PreparedData, TAG_VISIT } from "../store/prepared-data.ts";
import {
  TAG_FALSE,
  TAG_NULL,
  TAG_NUMBER,
  TAG_OBJECT,
  TAG_STRING,
  TAG_TRUE,
} from "../store/segment-format.ts";
import { DEFAULT_LIMITS, type Limits } from "./limits.ts";
import "./text-encoding.ts";

/**
 * What the decoder returns: the generated message type itself, so `validateRecord(req, …)` takes it as is.
 * (`$unknown` is never set.)
 */
export type RecordRequestLike = RecordEventsRequest;

/** protobuf-es's default `recursionLimit`. */
const RECURSION_LIMIT = 100;
// ignoreBOM: a leading U+FEFF is kept, as text-encoding.ts makes protobuf-es keep it.
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const EMPTY = new Uint8Array(0);

// The input being decoded. Module state rather than a reader object: decoding is synchronous and not
// re-entrant, and V8 reads these as fast as locals.
let buf: Uint8Array = EMPTY;
let pos = 0;
let len = 0;
let view: DataView = new DataView(EMPTY.buffer);
/** The two halves of the last 64-bit varint read. */
let lo = 0;
let hi = 0;

/**
 * Decodes a binary `RecordEventsRequest`; throws an Error on input that `fromBinary` would refuse.
 *
 * Events' data is read straight into a PreparedData (store/prepared-data.ts: the JSON text and the
 * flattened values the segment encoder needs), and each event's `data` object is made only if something
 * asks for it (from the same wire bytes, by the object decoder). Data the prepared form leaves to the
 * object path (see `bail`) makes the whole request decode as objects (`prepare` false does so always).
 */
export function decodeRecordRequest(
  bytes: Uint8Array,
  prepare = true,
  limits: DataLimits = DEFAULT_LIMITS,
): RecordRequestLike {
  if (prepare) {
    try {
      dataLimits = limits;
      return withInput(bytes, () => readRequest(new DataBuilder(bytes)));
    } catch {
      // Unusual or invalid input: the object decoder returns what the library would, or throws its error.
    }
  }
  return withInput(bytes, () => readRequest());
}

function withInput<T>(bytes: Uint8Array, read: () => T): T {
  buf = bytes;
  pos = 0;
  len = bytes.length;
  view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  try {
    return read();
  } finally {
    buf = EMPTY;
    view = new DataView(EMPTY.buffer);
  }
}

/** The request; each event's data into `b` when given (prepared mode), else as JSON objects. */
function readRequest(b?: DataBuilder): RecordEventsRequest {
  let module = "";
  const events: Event[] = [];
  while (pos < len) {
    const tag = readTag();
    const no = tag >>> 3;
    if (no === 1) module = readString();
    else if (no === 2) events.push(readEvent(2, b));
    else skip(tag & 7, no, RECURSION_LIMIT - 1);
  }
  return { $typeName: "telemetry.v1.RecordEventsRequest", module, events };
}

/**
 * An event; its data into `b` when given (one data field at most: a repeated one merges, left to the
 * object path), else as a JSON object.
 */
function readEvent(depth: number, b?: DataBuilder): Event {
  const end = messageEnd(depth, "telemetry.v1.Event");
  let id = "";
  let type = "";
  let time: Timestamp | undefined;
  let data: JsonObject | undefined;
  let location: Location | undefined;
  let dataAt = -1;
  while (pos < end) {
    const tag = readTag();
    switch (tag >>> 3) {
      case 1:
        id = readUniqueString();
        break;
      case 2:
        type = readString();
        break;
      case 3:
        time = readTimestamp(depth + 1, time);
        break;
      case 4:
        if (b === undefined) data = readStruct(depth + 1, data);
        else {
          if (dataAt >= 0 || (tag & 7) !== 2) bail();
          dataAt = pos;
          readPreparedData(depth + 1, b);
        }
        break;
      case 5:
        location = readLocation(depth + 1, location);
        break;
      default:
        skip(tag & 7, tag >>> 3, RECURSION_LIMIT - depth);
    }
  }
  if (b === undefined) return { $typeName: "telemetry.v1.Event", id, type, time, data, location };
  if (dataAt < 0) {
    // No data: validation stores {}.
    b.byte(0x7b);
    b.byte(0x7d);
    b.endEvent(1, 0);
  }
  return new WireEvent(id, type, time, location, b, b.events - 1, buf, dataAt, depth + 1);
}

function readTimestamp(depth: number, into: Timestamp | undefined): Timestamp {
  const end = messageEnd(depth, "google.protobuf.Timestamp");
  const ts: Timestamp = into ?? { $typeName: "google.protobuf.Timestamp", seconds: 0n, nanos: 0 };
  while (pos < end) {
    const tag = readTag();
    const no = tag >>> 3;
    if (no === 1) {
      readVarint64();
      ts.seconds = int64(lo, hi);
    } else if (no === 2) ts.nanos = readVarint32() | 0;
    else skip(tag & 7, no, RECURSION_LIMIT - depth);
  }
  return ts;
}

function readLocation(depth: number, into: Location | undefined): Location {
  const end = messageEnd(depth, "telemetry.v1.Location");
  const loc: Location = into ?? { $typeName: "telemetry.v1.Location", lat: 0, lon: 0 };
  while (pos < end) {
    const tag = readTag();
    const no = tag >>> 3;
    if (no === 1) loc.lat = readDouble();
    else if (no === 2) loc.lon = readDouble();
    else skip(tag & 7, no, RECURSION_LIMIT - depth);
  }
  return loc;
}

/** A Struct as a JSON object, merged into `into` when the field was already present. */
function readStruct(depth: number, into: JsonObject | undefined): JsonObject {
  const end = messageEnd(depth, "google.protobuf.Struct");
  const obj: JsonObject = into ?? {};
  while (pos < end) {
    const tag = readTag();
    const no = tag >>> 3;
    if (no === 1) readEntry(obj, depth);
    else skip(tag & 7, no, RECURSION_LIMIT - depth);
  }
  return obj;
}

/** One `map<string, Value> fields` entry, read the way protobuf-es's readMapEntry reads it. */
function readEntry(obj: JsonObject, depth: number): void {
  const length = readVarint32();
  const end = pos + length;
  let key = "";
  let value: JsonValue = null;
  while (pos < end) {
    const no = readTag() >>> 3;
    if (no === 1) key = readString();
    else if (no === 2) value = readValue(depth + 1);
    // Any other field: protobuf-es neither reads nor skips it; its payload is read as the next tags.
  }
  if (key !== "__proto__") obj[key] = value;
}

const KIND_NONE = 0;
const KIND_STRUCT = 5;
const KIND_LIST = 6;

/** A google.protobuf.Value as JSON; no kind is null. */
function readValue(depth: number): JsonValue {
  const end = messageEnd(depth, "google.protobuf.Value");
  let kind = KIND_NONE;
  let value: JsonValue = null;
  while (pos < end) {
    const tag = readTag();
    const no = tag >>> 3;
    switch (no) {
      case 1: // null_value, an open enum read as int32
        readVarint32();
        value = null;
        break;
      case 2:
        value = readDouble();
        break;
      case 3:
        value = readString();
        break;
      case 4:
        readVarint64();
        value = lo !== 0 || hi !== 0;
        break;
      case KIND_STRUCT:
        value = readStruct(depth + 1, kind === KIND_STRUCT ? (value as JsonObject) : undefined);
        break;
      case KIND_LIST:
        value = readList(depth + 1, kind === KIND_LIST ? (value as JsonValue[]) : undefined);
        break;
      default:
        skip(tag & 7, no, RECURSION_LIMIT - depth);
        continue;
    }
    kind = no;
  }
  return value;
}

function readList(depth: number, into: JsonValue[] | undefined): JsonValue[] {
  const end = messageEnd(depth, "google.protobuf.ListValue");
  const list: JsonValue[] = into ?? [];
  while (pos < end) {
    const tag = readTag();
    const no = tag >>> 3;
    if (no === 1) list.push(readValue(depth + 1));
    else skip(tag & 7, no, RECURSION_LIMIT - depth);
  }
  return list;
}

/** Reads a sub-message's length and returns where its fields end; refuses nesting past the limit. */
function messageEnd(depth: number, typeName: string): number {
  const length = readVarint32();
  if (depth > RECURSION_LIMIT) {
    throw new Error(
      `cannot decode ${typeName} from binary: maximum recursion depth of ${RECURSION_LIMIT} reached`,
    );
  }
  return pos + length;
}

// ---- wire primitives, each throwing where protobuf-es's BinaryReader throws ----

function eof(): Error {
  return new RangeError("premature EOF");
}

/** The byte at `i`, or 0 past the end (BinaryReader reads `undefined` there, which masks to 0). */
function byteAt(i: number): number {
  return i < len ? buf[i]! : 0;
}

/** A tag as (field number << 3 | wire type), validated like BinaryReader.tag(). */
function readTag(): number {
  if (pos < len) {
    const b = buf[pos]!;
    if (b < 0x80) {
      pos++;
      if (b < 8 || (b & 7) > 5) throw illegalTag(b);
      return b;
    }
  }
  const start = pos;
  const tag = readVarint32();
  const bytesRead = pos - start;
  if (bytesRead > 5 || (bytesRead === 5 && buf[pos - 1]! > 0x0f)) {
    throw new Error("illegal tag: varint overflows uint32");
  }
  if (tag >>> 3 === 0 || (tag & 7) > 5) throw illegalTag(tag);
  return tag;
}

function illegalTag(tag: number): Error {
  return new Error(`illegal tag: field no ${tag >>> 3} wire type ${tag & 7}`);
}

/** A uint32 varint as BinaryReader.uint32() reads it: the low 32 bits of at most 10 bytes. */
function readVarint32(): number {
  if (pos < len) {
    const b = buf[pos]!;
    if (b < 0x80) {
      pos++;
      return b;
    }
  }
  let b = byteAt(pos++);
  let result = b & 0x7f;
  if ((b & 0x80) === 0) return checked(result);
  b = byteAt(pos++);
  result |= (b & 0x7f) << 7;
  if ((b & 0x80) === 0) return checked(result);
  b = byteAt(pos++);
  result |= (b & 0x7f) << 14;
  if ((b & 0x80) === 0) return checked(result);
  b = byteAt(pos++);
  result |= (b & 0x7f) << 21;
  if ((b & 0x80) === 0) return checked(result);
  b = byteAt(pos++);
  result |= (b & 0x0f) << 28;
  for (let read = 5; (b & 0x80) !== 0 && read < 10; read++) b = byteAt(pos++);
  if ((b & 0x80) !== 0) throw new Error("invalid varint");
  return checked(result >>> 0);
}

function checked(value: number): number {
  if (pos > len) throw eof();
  return value;
}

/** A 64-bit varint into `lo` and `hi` (two int32 halves), as BinaryReader.varint64() reads it. */
function readVarint64(): void {
  let low = 0;
  let high = 0;
  for (let shift = 0; shift < 28; shift += 7) {
    const b = byteAt(pos++);
    low |= (b & 0x7f) << shift;
    if ((b & 0x80) === 0) {
      set64(low, high);
      return;
    }
  }
  const middle = byteAt(pos++);
  low |= (middle & 0x0f) << 28;
  high = (middle & 0x70) >> 4;
  if ((middle & 0x80) === 0) {
    set64(low, high);
    return;
  }
  for (let shift = 3; shift <= 31; shift += 7) {
    const b = byteAt(pos++);
    high |= (b & 0x7f) << shift;
    if ((b & 0x80) === 0) {
      set64(low, high);
      return;
    }
  }
  throw new Error("invalid varint");
}

function set64(low: number, high: number): void {
  if (pos > len) throw eof();
  lo = low;
  hi = high;
}

/** The signed 64-bit integer hi:lo, as protoInt64.dec gives it. */
function int64(low: number, high: number): bigint {
  // hi as a signed 32-bit number times 2^32 plus lo unsigned is the two's complement value; it is exact
  // in a double while |hi| < 2^21.
  if (high >= -0x200000 && high < 0x200000) return BigInt(high * 0x1_0000_0000 + (low >>> 0));
  return (BigInt(high) << 32n) | BigInt(low >>> 0);
}

function readDouble(): number {
  if (pos + 8 > len) {
    pos += 8;
    throw eof();
  }
  const value = view.getFloat64(pos, true);
  pos += 8;
  return value;
}

/** A length-delimited string, validated UTF-8; ASCII without TextDecoder. */
function readString(): string {
  const end = stringEnd();
  const start = pos;
  pos = end;
  const length = end - start;
  if (length > 24) return plainString(start, end);
  // Short strings (keys, names, types): while they are ASCII, hashed and looked up among the short strings
  // read before — they repeat from event to event, and a string already made costs no allocation (and
  // later hashes as a string once, in the store's dictionaries).
  let h = 0x811c9dc5 ^ length;
  for (let i = start; i < end; i++) {
    const c = buf[i]!;
    if (c >= 0x80) return utf8.decode(buf.subarray(start, end));
    h = Math.imul(h ^ c, 0x01000193);
  }
  const slot = (h ^ (h >>> 15)) & (SHORT_STRINGS - 1);
  const known = shortStrings[slot];
  if (known !== undefined && known.length === length) {
    let i = 0;
    while (i < length && known.charCodeAt(i) === buf[start + i]) i++;
    if (i === length) return known;
  }
  const s = latin1(start, end);
  shortStrings[slot] = s;
  return s;
}

/** readString for a string that rarely repeats (an event's id): not looked up among those read before. */
function readUniqueString(): string {
  const end = stringEnd();
  const start = pos;
  pos = end;
  return plainString(start, end);
}

/** A length-delimited string's end, after its length; past the input it throws (at the end, as protobuf-es). */
function stringEnd(): number {
  const end = readVarint32() + pos;
  if (end > len) {
    pos = end;
    throw eof();
  }
  return end;
}

/** bytes [start, end) as a string: validated UTF-8, ASCII without TextDecoder. */
function plainString(start: number, end: number): string {
  for (let i = start; i < end; i++) {
    if (buf[i]! >= 0x80) return utf8.decode(buf.subarray(start, end));
  }
  return latin1(start, end);
}

/** Short ASCII strings read before, by a hash of their bytes (a slot keeps the latest). */
const SHORT_STRINGS = 16384;
const shortStrings: (string | undefined)[] = new Array(SHORT_STRINGS).fill(undefined);

/** ASCII bytes [start, end) as a string, in chunks small enough for a spread call. */
function latin1(start: number, end: number): string {
  let s = "";
  for (let at = start; at < end; at += 4096) {
    s += String.fromCharCode.apply(null, buf.subarray(at, Math.min(end, at + 4096)) as unknown as number[]);
  }
  return s;
}

/** Skips one unknown field of wire type `wireType`, as BinaryReader.skip() does. */
function skip(wireType: number, fieldNo: number, recursionLimit: number): void {
  switch (wireType) {
    case 0: // varint, of any length
      while (byteAt(pos++) & 0x80) {
        // skip
      }
      break;
    case 1: // 64-bit
      pos += 8;
      break;
    case 2: {
      const length = readVarint32();
      pos += length;
      break;
    }
    case 3: // group: fields up to the matching end-group tag
      if (recursionLimit <= 0) throw new Error("maximum recursion depth reached");
      for (;;) {
        const tag = readTag();
        if ((tag & 7) === 4) {
          if (tag >>> 3 !== fieldNo) throw new Error("invalid end group tag");
          break;
        }
        skip(tag & 7, tag >>> 3, recursionLimit - 1);
      }
      break;
    case 5: // 32-bit
      pos += 4;
      break;
    default:
      throw new Error(`cant skip wire type ${wireType}`);
  }
  if (pos > len) throw eof();
}

// ---- prepared mode: events' data straight into a PreparedData ----

/** Any error thrown in prepared mode sends the request to the object decoder. */
function bail(): never {
  throw new Error("left to the object decoder");
}

/** An event decoded in prepared mode: its `data` object is decoded from the wire when first asked for. */
class WireEvent implements Event {
  readonly $typeName = "telemetry.v1.Event";
  private decoded: JsonObject | undefined;
  private done = false;

  constructor(
    public id: string,
    public type: string,
    public time: Timestamp | undefined,
    public location: Location | undefined,
    readonly prepared: PreparedData,
    readonly row: number,
    private readonly wire: Uint8Array,
    /** Where the data Struct's length is (-1: no data), and its nesting depth. */
    private readonly dataAt: number,
    private readonly dataDepth: number,
  ) {}

  get data(): JsonObject | undefined {
    if (!this.done) {
      this.done = true;
      if (this.dataAt >= 0) {
        const at = this.dataAt;
        const depth = this.dataDepth;
        this.decoded = withInput(this.wire, () => {
          pos = at;
          return readStruct(depth, undefined);
        });
      }
    }
    return this.decoded;
  }

  set data(value: JsonObject | undefined) {
    this.done = true;
    this.decoded = value;
  }
}

/** The prepared data and row of an event `decodeRecordRequest` read in prepared mode. */
export function preparedOf(event: Event): { prepared: PreparedData; row: number } | undefined {
  return event instanceof WireEvent ? event : undefined;
}

/** What validation counts in the data being read: the deepest object or array, keys and elements. */
let dataDepth = 0;
let dataKeys = 0;
/** Where the event's JSON text starts in the builder. */
let dataStart = 0;

/** The limits validation will apply to each event's data (limits.ts). */
export type DataLimits = Pick<Limits, "maxDepth" | "maxKeys" | "maxEventBytes">;

/**
 * Data over validation's limits is left to the object path, which names the problem. Prepared mode must
 * not get that far: a nested object's canonical text is kept per level (as the object path keeps it
 * after validation), so unchecked depth times size would cost memory before anything is refused.
 */
let dataLimits: DataLimits = DEFAULT_LIMITS;

function checkLimits(vdepth: number, b: DataBuilder): void {
  if (
    vdepth > dataLimits.maxDepth ||
    dataKeys > dataLimits.maxKeys ||
    b.at - dataStart > dataLimits.maxEventBytes
  )
    bail();
}
function readPreparedData(depth: number, b: DataBuilder): void {
  const end = messageEnd(depth, "google.protobuf.Struct");
  if (end > len) bail();
  dataDepth = 0;
  dataKeys = 0;
  dataStart = b.at;
  writeObject(end, depth, b.root, 1, b);
  b.endEvent(dataDepth, dataKeys);
}

/** Objects read so far: each has a serial, for the duplicate-key check (PathNode.seenIn). */
let objectSerial = 0;

/** A Struct's fields [pos, end) as a JSON object, its values below `node`; `vdepth`: validation's depth. */
function writeObject(end: number, depth: number, node: PathNode, vdepth: number, b: DataBuilder): void {
  if (vdepth > dataDepth) dataDepth = vdepth;
  checkLimits(vdepth, b);
  const serial = ++objectSerial;
  b.byte(0x7b);
  let position = 0;
  while (pos < end) {
    if (!nextElement(depth)) continue;
    // A map entry: exactly a key (field 1) then a value (field 2).
    const entryEnd = readVarint32() + pos;
    if (entryEnd > end || pos >= entryEnd || readTag() !== 0x0a) bail();
    const keyEnd = readVarint32() + pos;
    const keyStart = pos;
    if (keyEnd > entryEnd) bail();
    pos = keyEnd;
    const child = b.child(node, position, buf, keyStart, keyEnd);
    // A repeated key keeps the first one's place in the object: left to the object decoder.
    if (child === undefined || child.seenIn === serial) bail();
    child.seenIn = serial;
    if (pos >= entryEnd || readTag() !== 0x12) bail();
    if (position++ > 0) b.byte(0x2c);
    b.key(child);
    dataKeys++;
    const before = b.entries;
    writeValue(depth + 1, child, vdepth + 1, b);
    if (pos !== entryEnd) bail();
    checkLimits(vdepth, b);
    // The object path reaches a key's path even when its value holds nothing (an empty array).
    if (b.entries === before) b.entry(child, TAG_VISIT, 0);
  }
  if (pos !== end) bail();
  b.byte(0x7d);
}

/**
 * The next field of a Struct or ListValue at `depth`: true for an element (field 1, length-delimited: its
 * length is next), false for an unknown field, skipped. Field 1 of another wire type is left to the object
 * decoder, which reads it by its declared type.
 */
function nextElement(depth: number): boolean {
  const tag = readTag();
  if (tag === 0x0a) return true;
  if (tag >>> 3 === 1) bail();
  skip(tag & 7, tag >>> 3, RECURSION_LIMIT - depth);
  return false;
}

/** A Value of exactly one kind, as JSON and as the path's values. */
function writeValue(depth: number, node: PathNode, vdepth: number, b: DataBuilder): void {
  const end = messageEnd(depth, "google.protobuf.Value");
  let kinds = 0;
  while (pos < end) {
    const tag = readTag();
    if (tag >>> 3 > 6) {
      skip(tag & 7, tag >>> 3, RECURSION_LIMIT - depth);
      continue;
    }
    if (kinds++ > 0) bail();
    switch (tag) {
      case 0x08: // null_value
        readVarint32();
        writeAscii(b, NULL);
        b.entry(node, TAG_NULL, 0);
        break;
      case 0x11: {
        const v = readDouble();
        if (!Number.isFinite(v)) bail();
        b.number(v);
        b.entry(node, TAG_NUMBER, v);
        break;
      }
      case 0x1a: {
        const stringEnd = readVarint32() + pos;
        const start = pos;
        if (stringEnd > end) bail();
        pos = stringEnd;
        const id = b.stringId(start, stringEnd, b.jsonString(buf, start, stringEnd));
        if (id === undefined) bail();
        b.entry(node, TAG_STRING, id);
        break;
      }
      case 0x20: {
        readVarint64();
        const value = lo !== 0 || hi !== 0;
        writeAscii(b, value ? TRUE : FALSE);
        b.entry(node, value ? TAG_TRUE : TAG_FALSE, 0);
        break;
      }
      case 0x2a: {
        const from = b.at;
        // The object's own value comes before its children's, as the object path pushes it.
        const k = b.entry(node, TAG_OBJECT, 0);
        writeObject(messageEnd(depth + 1, "google.protobuf.Struct"), depth + 1, node, vdepth, b);
        b.entryVal[k] = b.objectId(from, b.at);
        break;
      }
      case 0x32:
        writeList(messageEnd(depth + 1, "google.protobuf.ListValue"), depth + 1, node, vdepth, b);
        break;
      default:
        // A known field with another wire type: the object decoder reads it by its declared type.
        bail();
    }
    if (pos > end) bail();
  }
  if (kinds === 0 || pos !== end) bail();
}

function writeList(end: number, depth: number, node: PathNode, vdepth: number, b: DataBuilder): void {
  if (vdepth > dataDepth) dataDepth = vdepth;
  checkLimits(vdepth, b);
  b.byte(0x5b);
  let first = true;
  while (pos < end) {
    if (!nextElement(depth)) continue;
    if (!first) b.byte(0x2c);
    first = false;
    dataKeys++;
    // Arrays reach their elements: the same path.
    writeValue(depth + 1, node, vdepth + 1, b);
    checkLimits(vdepth, b);
  }
  if (pos !== end) bail();
  b.byte(0x5d);
}

const NULL = Array.from("null", (c) => c.charCodeAt(0));
const TRUE = Array.from("true", (c) => c.charCodeAt(0));
const FALSE = Array.from("false", (c) => c.charCodeAt(0));
function writeAscii(b: DataBuilder, text: readonly number[]): void {
  for (let i = 0; i < text.length; i++) b.byte(text[i]!);
}
