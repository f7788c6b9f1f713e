/** Node's native zlib for the store's compressed columns: about three times faster than fflate's. */
import { constants, inflateRawSync } from "node:zlib";
import type { Inflate } from "../store/codec.ts";

export const nodeInflate: Inflate = Object.assign(
  (bytes: Uint8Array, size: number) => inflateRawSync(bytes, { maxOutputLength: Math.max(size, 1) }),
  {
    /**
     * The stream's first compressed bytes, inflated without requiring its end (a sync flush, not a
     * finish): about as much of the input as the output wanted, then twice as much until it is enough.
     */
    prefix(bytes: Uint8Array, atLeast: number, size: number): Uint8Array {
      let take = Math.min(
        bytes.byteLength,
        Math.ceil(((bytes.byteLength * atLeast) / Math.max(size, 1)) * 1.1) + 4096,
      );
      for (;;) {
        const whole = take >= bytes.byteLength;
        const out = inflateRawSync(bytes.subarray(0, take), {
          maxOutputLength: Math.max(size, 1),
          ...(whole ? {} : { finishFlush: constants.Z_SYNC_FLUSH }),
        });
        if (whole || out.byteLength >= atLeast) return out;
        take = Math.min(bytes.byteLength, take * 2);
      }
    },
  },
);
