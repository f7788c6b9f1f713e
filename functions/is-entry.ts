import { realpathSync } from "node:fs";
import { pathToFileURL } from "node:url";

/**
 * Whether the module whose `import.meta.url` is `url` is the script Node was started with. Node gives a
 * module the URL of its real path but keeps `process.argv[1]` as typed, so comparing the two as strings
 * misses a start through a symlink (a `current -> release-N` deploy) or from a path with characters a URL
 * escapes (a space): the server would then exit at once, without a word.
 */
export function isEntry(url: string): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return pathToFileURL(realpathSync(script)).href === url;
  } catch {
    return false;
  }
}
