/**
 * Fails when proto/gen/ is not what `npm run generate` makes of proto/ today, so a .proto edit can never
 * land without its generated code.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";

function listFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? listFiles(path) : [path];
  });
}

const root = new URL("..", import.meta.url).pathname;
const out = mkdtempSync(join(tmpdir(), "tally-gen-"));
try {
  execFileSync("npx", ["buf", "generate", "--output", out], { cwd: root, stdio: "inherit" });
  const fresh = join(out, "proto/gen");
  const committed = join(root, "proto/gen");
  const a = listFiles(fresh)
    .map((f) => relative(fresh, f))
    .sort();
  const b = listFiles(committed)
    .map((f) => relative(committed, f))
    .sort();
  const stale = [
    ...a.filter(
      (f) => !b.includes(f) || !readFileSync(join(fresh, f)).equals(readFileSync(join(committed, f))),
    ),
    ...b.filter((f) => !a.includes(f)),
  ];
  if (stale.length > 0) {
    console.error(
      `proto/gen is stale (${stale.join(", ")}): run \`npm run generate\` and commit the result.`,
    );
    process.exit(1);
  }
  console.log("proto/gen is up to date.");
} finally {
  rmSync(out, { recursive: true, force: true });
}
