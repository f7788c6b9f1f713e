/**
 * The dashboard's files where there is no file system (Workers): scripts/build-worker.ts puts every file
 * of web/dist into the bundle as the virtual module `tally:web-assets`, base64 text with its content type.
 * A file is decoded the first time it is asked for and kept: the set is small (about 1 MB) and immutable.
 */
import files from "tally:web-assets";
import type { AssetSource } from "./static-assets.ts";

export function embeddedAssets(): AssetSource {
  const decoded = new Map<string, { body: Uint8Array; type: string }>();
  return {
    async get(path) {
      let file = decoded.get(path);
      if (!file) {
        const entry = Object.hasOwn(files, path) ? files[path] : undefined;
        if (!entry) return undefined;
        file = { body: Uint8Array.from(atob(entry.base64), (c) => c.charCodeAt(0)), type: entry.type };
        decoded.set(path, file);
      }
      return file;
    },
  };
}
