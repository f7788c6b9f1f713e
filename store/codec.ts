/**
 * How compressed columns are inflated. The store is runtime-neutral, so its default is fflate (pure JS,
 * runs everywhere); a runtime with a native zlib hands a faster one to the EventStore — on Node,
 * node:zlib inflates a compacted segment's data column about three times faster (docs/performance.md).
 */
import { inflateSync } from "fflate";

/**
 * Inflates raw DEFLATE `bytes` whose inflated length is known to be `size`. `prefix`, when the runtime
 * has it, inflates only as far as needed: at least the first `atLeast` bytes of the output (all of it
 * when that is all there is) — a ListEvents page needs a few rows of a day's data column, which is one
 * deflate stream of megabytes.
 */
export type Inflate = ((bytes: Uint8Array, size: number) => Uint8Array) & {
  prefix?: (bytes: Uint8Array, atLeast: number, size: number) => Uint8Array;
};

export const fflateInflate: Inflate = (bytes, size) => inflateSync(bytes, { out: new Uint8Array(size) });
