/**
 * How compressed columns are inflated. The store is runtime-neutral, so its default is fflate (pure JS,
 * runs everywhere); a runtime with a native zlib hands a faster one to the EventStore — on Node,
 * node:zlib inflates a compacted segment's data column about three times faster (docs/performance.md).
 */
import { Inflate as InflateStream, inflateSync } from "fflate";

/**
 * Inflates raw DEFLATE `bytes` whose inflated length is known to be `size`. `prefix`, when the runtime
 * has it, inflates only as far as needed: at least the first `atLeast` bytes of the output (all of it
 * when that is all there is) — a ListEvents page needs a few rows of a day's data column, which is one
 * deflate stream of megabytes.
 */
export type Inflate = ((bytes: Uint8Array, size: number) => Uint8Array) & {
  prefix?: (bytes: Uint8Array, atLeast: number, size: number) => Uint8Array;
};

export const fflateInflate: Inflate = Object.assign(
  (bytes: Uint8Array, size: number) => inflateSync(bytes, { out: new Uint8Array(size) }),
  {
    /** fflate's stream, fed the compressed bytes a slice at a time until enough has come out. */
    prefix(bytes: Uint8Array, atLeast: number, size: number): Uint8Array {
      const out = new Uint8Array(size);
      let got = 0;
      const stream = new InflateStream((chunk) => {
        if (got + chunk.byteLength > size) throw new Error(`inflates past ${size} bytes`);
        out.set(chunk, got);
        got += chunk.byteLength;
      });
      const step = Math.max(16 * 1024, Math.ceil((bytes.byteLength * atLeast) / Math.max(size, 1) / 4));
      for (let at = 0; at < bytes.byteLength && got < atLeast; at += step) {
        const end = Math.min(bytes.byteLength, at + step);
        stream.push(bytes.subarray(at, end), end === bytes.byteLength);
      }
      return out.subarray(0, got);
    },
  },
);
