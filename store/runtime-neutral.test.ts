/**
 * store/ must run unchanged on Workers: it may import only other store files, unstorage's types and the
 * runtime-neutral packages listed here — never `node:*`, Hono or Connect.
 */
import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

const ALLOWED = [/^\.\//, /^unstorage$/, /^fflate$/];

describe("store/ is runtime-neutral", () => {
  const dir = new URL(".", import.meta.url);
  const files = readdirSync(dir).filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts"));
  it.each(files)("%s imports only neutral modules", (file) => {
    const source = readFileSync(new URL(file, dir), "utf8");
    const imports = [...source.matchAll(/^\s*(?:import|export)[^"']*?from\s+["']([^"']+)["']/gm)].map(
      (m) => m[1]!,
    );
    for (const spec of imports)
      expect(
        ALLOWED.some((re) => re.test(spec)),
        `${file} imports ${spec}`,
      ).toBe(true);
    expect(source).not.toMatch(/\brequire\(|process\.|Buffer\./);
  });
});
