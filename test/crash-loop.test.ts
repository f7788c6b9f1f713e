/**
 * Crash loop (issue #7, suite 2): a real server process under concurrent ingest, SIGKILLed and restarted
 * 50 times, some kills during compaction. See crash-loop.ts for what is checked.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runCrashLoop } from "./crash-loop.ts";

const dir = mkdtempSync(join(tmpdir(), "tally-crash-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("crash loop", () => {
  it("50 SIGKILLs under concurrent ingest and compaction lose and double nothing", {
    timeout: 240_000,
  }, async () => {
    const r = await runCrashLoop({ dir, lives: 50, seed: 7 });
    console.log(`[crash-loop] ${JSON.stringify(r)}`);
    expect(r.kills).toBe(50);
    expect(r.killsDuringCompact).toBeGreaterThan(0);
    expect(r.acknowledged).toBeGreaterThan(1000);
    expect(r.found).toBeGreaterThanOrEqual(r.acknowledged);
    expect(r.retried).toBeGreaterThan(0);
    expect(r.queriesAnswered).toBeGreaterThan(0);
    expect(r.tempFilesRemaining).toBe(0);
    expect(r.segmentsChecked).toBeGreaterThan(0);
  });
});
