import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const dir = mkdtempSync(join(tmpdir(), "tally-entry-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs `script` (a path, maybe a link) with tsx, as `npm start` runs the server; its stdout. */
function run(script: string): string {
  return execFileSync(process.execPath, ["--import", "tsx", script], {
    cwd: process.cwd(),
    encoding: "utf8",
  }).trim();
}

describe("isEntry", () => {
  // A script that says whether it is the entry, and a module it imports that says the same of itself.
  const real = join(dir, "release 1");
  mkdirSync(real);
  const isEntry = JSON.stringify(new URL("./is-entry.ts", import.meta.url).pathname);
  writeFileSync(
    join(real, "main.ts"),
    `import { isEntry } from ${isEntry};\nimport { imported } from "./lib.ts";\nconsole.log(isEntry(import.meta.url), imported);\n`,
  );
  writeFileSync(
    join(real, "lib.ts"),
    `import { isEntry } from ${isEntry};\nexport const imported = isEntry(import.meta.url);\n`,
  );
  symlinkSync(real, join(dir, "current"));

  it("knows the script Node was started with, by its path, a path with a space, or a link to it", () => {
    expect(run(join(real, "main.ts"))).toBe("true false");
    expect(run(join(dir, "current", "main.ts"))).toBe("true false");
  });
});
