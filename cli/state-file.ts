/**
 * The state files resumable migrations keep (`--state`): read whole, written whole to a temp file and
 * renamed over the old one, so a migration stopped mid-write leaves the previous state, never half of one.
 */
import { existsSync, readFileSync } from "node:fs";
import { rename, writeFile } from "node:fs/promises";

/** The state at `path`, or undefined when there is no path or no file yet. */
export function readStateFile<T>(path: string | undefined): T | undefined {
  if (!path || !existsSync(path)) return undefined;
  return JSON.parse(readFileSync(path, "utf8")) as T;
}

export async function writeStateFile(path: string, state: unknown): Promise<void> {
  await writeFile(`${path}.tmp`, JSON.stringify(state));
  await rename(`${path}.tmp`, path);
}
