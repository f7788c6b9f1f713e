/**
 * Byte helpers for the driver contract: reproducible values, exact comparisons that fail readably, and a
 * bounded worker pool.
 *
 * @module
 */
import { expect } from "vitest";

export const KiB = 1024;

/** Reproducible pseudo-random bytes (xorshift32), distinct per seed, so a failure can be replayed. */
export function bytesOf(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = (Math.imul(seed, 2654435761) >>> 0) | 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

function sameBytes(a: unknown, b: Uint8Array): boolean {
  if (!(a instanceof Uint8Array) || a.length !== b.length) return false;
  for (let i = 0; i < b.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Asserts exact bytes, reporting the first difference rather than dumping a megabyte. */
export function expectBytes(actual: unknown, expected: Uint8Array): void {
  expect(actual).toBeInstanceOf(Uint8Array);
  const got = actual as Uint8Array;
  const firstDifference = got.findIndex((byte, i) => byte !== expected[i]);
  expect({ length: got.length, firstDifference }).toEqual({ length: expected.length, firstDifference: -1 });
}

/** Which of `candidates` a read returned whole, or -1 for a torn or foreign value. */
export function whichOf(value: unknown, candidates: Uint8Array[]): number {
  return candidates.findIndex((candidate) => sameBytes(value, candidate));
}

/** Runs `task` over `items`, `width` at a time: enough concurrency to matter, not a file-handle storm. */
export async function inPool<T>(
  items: T[],
  width: number,
  task: (item: T) => Promise<unknown>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await task(items[next++] as T);
  };
  await Promise.all(Array.from({ length: width }, worker));
}
