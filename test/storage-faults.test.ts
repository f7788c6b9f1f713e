/**
 * Injected storage faults (issue #7, suite 1): EIO, ENOSPC and timeouts at seeded points under every read,
 * write, listing and removal, over the memory driver and the atomic filesystem driver. See fault-run.ts for
 * what each round checks; a failure names the round, and the seed replays it.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { fsAtomicDriver } from "../storage-drivers/fs-atomic.ts";
import { memoryDriver } from "../storage-drivers/memory.ts";
import { runFaultScenario } from "./fault-run.ts";

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe("injected storage faults", () => {
  it.each([1, 2, 3])(
    "memory driver, seed %i: nothing acknowledged is lost, no wrong answer",
    async (seed) => {
      const r = await runFaultScenario({ seed, rounds: 120, base: memoryDriver() });
      console.log(`[faults] memory seed ${seed}: ${JSON.stringify(r)}`);
      expect(r.acknowledged).toBeGreaterThan(100);
      expect(r.found).toBeGreaterThanOrEqual(r.acknowledged);
      expect(r.faults.total).toBeGreaterThan(50);
      expect(r.faults.EIO * r.faults.ENOSPC * r.faults.timeout).toBeGreaterThan(0);
      expect(r.writesFailed).toBeGreaterThan(0);
      expect(r.queriesFailed).toBeGreaterThan(0);
      expect(r.queriesAnswered).toBeGreaterThan(0);
    },
  );

  it("atomic filesystem driver, seed 4: the same on disk", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tally-faults-"));
    dirs.push(dir);
    const r = await runFaultScenario({ seed: 4, rounds: 60, base: fsAtomicDriver({ base: dir }) });
    console.log(`[faults] fs seed 4: ${JSON.stringify(r)}`);
    expect(r.acknowledged).toBeGreaterThan(50);
    expect(r.faults.total).toBeGreaterThan(20);
  });
});
