/**
 * Tally's unstorage drivers. Each file is one driver; code that must stay runtime-neutral (a Worker)
 * imports `./memory.ts` directly, since this entry also loads the filesystem driver and so `node:fs`.
 *
 * @example
 * ```ts
 * import { createStorage } from "unstorage";
 * import { fsAtomicDriver } from "./storage-drivers/index.ts";
 * const storage = createStorage({ driver: fsAtomicDriver({ base: "./data" }) });
 * ```
 *
 * @module
 */
export { cleanupTempFiles, type FsAtomicOptions, fsAtomicDriver } from "./fs-atomic.ts";
export { memoryDriver } from "./memory.ts";
