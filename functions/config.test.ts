import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadConfig } from "./config.ts";

const dir = mkdtempSync(join(tmpdir(), "tally-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const withFile = (body: unknown) => {
  const path = join(dir, `c${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(path, JSON.stringify(body));
  return loadConfig({ TALLY_CONFIG: path });
};

describe("config file", () => {
  it("defaults the memory budgets", () => {
    const config = withFile({});
    expect(config.cacheBytes).toBe(256 * 1024 * 1024);
    expect(config.idIndexBytes).toBe(64 * 1024 * 1024);
  });

  it("takes budgets as given, 0 included", () => {
    expect(withFile({ idIndexBytes: 0, cacheBytes: 1024 })).toMatchObject({
      idIndexBytes: 0,
      cacheBytes: 1024,
    });
  });

  it.each([
    ["cacheBytes", -1],
    ["idIndexBytes", "64MiB"],
    ["compactionIntervalMs", 1.5],
  ])("refuses %s = %j, naming it", (name, value) => {
    expect(() => withFile({ [name]: value })).toThrow(new RegExp(`${name} must be a whole number`));
  });
});
