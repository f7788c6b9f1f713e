/**
 * A tenant's backup as one file (a byte stream, so it works wherever bytes can be written):
 *
 *   "TALLYBAK" | u32 LE header length | header JSON {format, version, tenant, created, codec}
 *   entries: u32 LE key length | key (UTF-8) | u32 LE byte length | the segment as stored |
 *            SHA-256 of key and segment (32 bytes)
 *   end:     u32 0 | u32 LE trailer length | trailer JSON {segments, bytes}
 *
 * Entries are the segments as the store keeps them — sealed when it encrypts, so a backup of an
 * encrypted store is encrypted with the same keys and needs them to be restored. The trailer makes a
 * truncated file detectable and the checksums an altered one: `readBackup` checks everything (each
 * entry's checksum, that it opens and parses as a segment, the trailer's counts) and only then does `restoreBackup` write, so a damaged backup restores nothing.
 * Restoring is idempotent: segments already present (same key) are skipped.
 */

import { TOMBSTONE_GRACE_MS } from "./deletion.ts";
import { TallyError } from "./errors.ts";
import type { EventStore } from "./event-store.ts";
import { parseEventKey } from "./keys.ts";
import { Segment } from "./segment.ts";
import { copySegment, tenantSegments } from "./tenant-copy.ts";
import { buried, type Tombstone } from "./tombstones.ts";

const MAGIC = "TALLYBAK";
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

export interface BackupHeader {
  format: "tally-backup";
  version: 1;
  tenant: string;
  /** ms since the epoch. */
  created: number;
  /** The id of the encryption key new segments were sealed with at backup time, or null. */
  codec: string | null;
}

function u32(n: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, n, true);
  return out;
}

function framed(json: unknown): Uint8Array[] {
  const bytes = encoder.encode(JSON.stringify(json));
  return [u32(bytes.byteLength), bytes];
}

/** The backup file of a tenant, in chunks; `onSegment` is told of every segment written. */
export async function* backupTenant(
  store: EventStore,
  tenant: string,
  onSegment: (key: string, bytes: number) => void = () => {},
): AsyncGenerator<Uint8Array> {
  const header: BackupHeader = {
    format: "tally-backup",
    version: 1,
    tenant,
    created: Math.floor(store.now()),
    codec: store.codec.current ?? null,
  };
  yield encoder.encode(MAGIC);
  yield* framed(header);
  let segments = 0;
  let bytes = 0;
  for await (const s of tenantSegments(store, tenant)) {
    const key = encoder.encode(s.key);
    yield u32(key.byteLength);
    yield key;
    yield u32(s.stored.byteLength);
    yield s.stored;
    yield await checksum(key, s.stored);
    segments++;
    bytes += s.stored.byteLength;
    onSegment(s.key, s.stored.byteLength);
  }
  yield u32(0);
  yield* framed({ segments, bytes });
}

/** Reads exactly n bytes at a time from a chunked stream (chunks are joined once per take, not per chunk). */
class Reader {
  private chunks: Uint8Array[] = [];
  private buffered = 0;
  private readonly it: AsyncIterator<Uint8Array>;
  constructor(chunks: AsyncIterable<Uint8Array>) {
    this.it = chunks[Symbol.asyncIterator]();
  }
  async take(n: number, what: string): Promise<Uint8Array> {
    while (this.buffered < n) {
      const next = await this.it.next();
      if (next.done) throw new TallyError("data_loss", `backup is truncated (in ${what})`);
      this.chunks.push(next.value);
      this.buffered += next.value.byteLength;
    }
    const out = new Uint8Array(n);
    let at = 0;
    while (at < n) {
      const chunk = this.chunks[0]!;
      const part = Math.min(chunk.byteLength, n - at);
      out.set(chunk.subarray(0, part), at);
      at += part;
      if (part === chunk.byteLength) this.chunks.shift();
      else this.chunks[0] = chunk.subarray(part);
    }
    this.buffered -= n;
    return out;
  }
  async u32(what: string): Promise<number> {
    const b = await this.take(4, what);
    return new DataView(b.buffer, b.byteOffset, 4).getUint32(0, true);
  }
  async json<T>(what: string): Promise<T> {
    const bytes = await this.take(await this.u32(what), what);
    try {
      return JSON.parse(decoder.decode(bytes)) as T;
    } catch (cause) {
      throw new TallyError("data_loss", `backup: corrupt ${what}`, { cause });
    }
  }
  async end(): Promise<boolean> {
    return this.buffered === 0 && (await this.it.next()).done === true;
  }
}

export interface BackupEntry {
  key: string;
  stored: Uint8Array;
}

/**
 * Reads a backup, calling `onEntry` for each segment after checking that it opens with `open` and parses.
 * Throws `data_loss` on anything damaged or truncated, `failed_precondition` when a key is missing.
 */
export async function readBackup(
  chunks: AsyncIterable<Uint8Array>,
  open: (key: string, stored: Uint8Array) => Promise<Uint8Array>,
  onEntry: (entry: BackupEntry, header: BackupHeader) => Promise<void> | void = () => {},
): Promise<{ header: BackupHeader; segments: number; bytes: number }> {
  const reader = new Reader(chunks);
  const magic = new TextDecoder().decode(await reader.take(MAGIC.length, "magic"));
  if (magic !== MAGIC) throw new TallyError("data_loss", "not a Tally backup file");
  const header = await reader.json<BackupHeader>("header");
  if (header.format !== "tally-backup" || header.version !== 1)
    throw new TallyError("data_loss", `unsupported backup version ${header.version}`);
  let segments = 0;
  let bytes = 0;
  for (;;) {
    const keyLength = await reader.u32("entry");
    if (keyLength === 0) break;
    const keyBytes = await reader.take(keyLength, "entry key");
    let key: string;
    try {
      key = decoder.decode(keyBytes);
    } catch {
      throw new TallyError("data_loss", "backup: corrupt entry key");
    }
    const parsed = parseEventKey(key);
    if (!parsed || parsed.tenant !== header.tenant)
      throw new TallyError(
        "data_loss",
        `backup: entry ${JSON.stringify(key)} is not a segment of ${header.tenant}`,
      );
    const stored = await reader.take(await reader.u32("entry length"), `segment ${key}`);
    const sum = await reader.take(32, `checksum of ${key}`);
    if (!equalBytes(sum, await checksum(keyBytes, stored)))
      throw new TallyError("data_loss", `backup: segment ${key} is damaged (checksum mismatch)`);
    new Segment(await open(key, stored), key);
    await onEntry({ key, stored }, header);
    segments++;
    bytes += stored.byteLength;
  }
  const trailer = await reader.json<{ segments: number; bytes: number }>("trailer");
  if (trailer.segments !== segments || trailer.bytes !== bytes || !(await reader.end()))
    throw new TallyError("data_loss", "backup: the trailer does not match its entries (a damaged file)");
  return { header, segments, bytes };
}

/**
 * Restores a backup into `store` (the same tenant). `chunks` is called twice: the whole file is checked
 * first, so that a damaged backup writes nothing, and then read again to write.
 */
export async function restoreBackup(
  store: EventStore,
  chunks: () => AsyncIterable<Uint8Array>,
  onSegment: (key: string, written: boolean) => void = () => {},
): Promise<{ tenant: string; segments: number; written: number }> {
  const open = (key: string, stored: Uint8Array) => store.codec.open(key, stored);
  // A deletion still in progress would delete again what is restored under its tombstone (the segments
  // keep their ingestion instants): refuse, and say when the tombstone goes.
  const stones = await store.tombstones.list();
  const blocking: Tombstone[] = [];
  const checked = await readBackup(chunks(), open, async ({ key, stored }) => {
    const parsed = parseEventKey(key)!;
    const covering = stones.filter(
      (t) =>
        t.tenant === parsed.tenant &&
        (t.module === undefined || t.module === parsed.module) &&
        (t.day === undefined || t.day === parsed.day),
    );
    if (covering.length === 0) return;
    const maxIngested = new Segment(await open(key, stored), key).maxIngested;
    for (const t of covering) if (buried([t], maxIngested) && !blocking.includes(t)) blocking.push(t);
  });
  if (blocking.length > 0) {
    const until = Math.max(...blocking.map((t) => t.before)) + TOMBSTONE_GRACE_MS;
    throw new TallyError(
      "failed_precondition",
      `restore: a deletion of this tenant's data is still in progress (${blocking.map((t) => t.key).join(", ")}); ` +
        `restored events would be deleted with it. Restore after ${new Date(until).toISOString()}, once its tombstone is gone`,
    );
  }
  let written = 0;
  await readBackup(chunks(), open, async ({ key, stored }) => {
    const wrote = await copySegment(store, key, stored, open);
    if (wrote) written++;
    onSegment(key, wrote);
  });
  return { tenant: checked.header.tenant, segments: checked.segments, written };
}

async function checksum(key: Uint8Array, stored: Uint8Array): Promise<Uint8Array> {
  const both = new Uint8Array(key.byteLength + stored.byteLength);
  both.set(key, 0);
  both.set(stored, key.byteLength);
  return new Uint8Array(await crypto.subtle.digest("SHA-256", both));
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}
