/**
 * gzip for request and response messages, runtime-neutral (fflate), so Node and Workers behave alike.
 * Decompression stops as soon as the output passes `readMaxBytes`: a gzip bomb costs at most that much.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import type { Compression } from "@connectrpc/connect/protocol";
import { Gunzip, gzipSync } from "fflate";

export const gzip: Compression = {
  name: "gzip",
  async compress(bytes) {
    return gzipSync(bytes, { level: 6 }) as Uint8Array<ArrayBuffer>;
  },
  async decompress(bytes, readMaxBytes) {
    if (bytes.length === 0) return new Uint8Array(0);
    const chunks: Uint8Array[] = [];
    let size = 0;
    let tooLarge = false;
    const gunzip = new Gunzip((chunk) => {
      size += chunk.length;
      if (size > readMaxBytes) tooLarge = true;
      else chunks.push(chunk);
    });
    try {
      // Feed in slices so that a bomb is noticed after one slice's worth of output, not at the end.
      for (let at = 0; at < bytes.length && !tooLarge; at += 16_384) {
        gunzip.push(bytes.subarray(at, at + 16_384), at + 16_384 >= bytes.length);
      }
    } catch (e) {
      throw new ConnectError(
        `gzip: invalid compressed message (${e instanceof Error ? e.message : String(e)})`,
        Code.InvalidArgument,
      );
    }
    if (tooLarge) {
      throw new ConnectError(
        `message is larger than ${readMaxBytes} bytes after decompression`,
        Code.ResourceExhausted,
      );
    }
    const out = new Uint8Array(size);
    let at = 0;
    for (const chunk of chunks) {
      out.set(chunk, at);
      at += chunk.length;
    }
    return out;
  },
};
