/**
 * The dashboard's files on Node: the Vite build in `web/dist`, read on demand. Hashed files under
 * `assets/` never change, so they are read once and kept; `index.html` is read on every request, so a
 * rebuild shows without a restart.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type AssetSource, contentType } from "./static-assets.ts";

export const WEB_DIST = fileURLToPath(new URL("../web/dist", import.meta.url));

export function folderAssets(dir: string = WEB_DIST): AssetSource {
  const kept = new Map<string, Promise<{ body: Uint8Array; type: string } | undefined>>();
  const read = async (path: string) => {
    try {
      const body = new Uint8Array(await readFile(join(dir, path)));
      return { body, type: contentType(path) };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw error;
    }
  };
  return {
    get(path) {
      if (!path.startsWith("assets/")) return read(path);
      let entry = kept.get(path);
      if (!entry) {
        entry = read(path);
        kept.set(path, entry);
        // A missing file may appear with the next build, and a failed read may succeed: keep neither.
        entry.then(
          (file) => file ?? kept.delete(path),
          () => kept.delete(path),
        );
      }
      return entry;
    },
  };
}
