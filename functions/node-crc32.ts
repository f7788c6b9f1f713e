/** Node's native CRC-32 (node:zlib, Node ≥ 20.15) for segment checksums: about 4× the pure-JS one's speed. */
import { crc32 } from "node:zlib";

export const nodeCrc32 = (bytes: Uint8Array): number => crc32(bytes);
