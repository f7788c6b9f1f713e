/**
 * `npm run soak [-- --lives 200 --fault-rounds 1000 --load-seconds 180 --rate 40 --batch 100]`: the long
 * runs of the reliability suites, one after another, bounded in time (~10-15 min on two shared cores):
 *
 * 1. the crash loop (test/crash-loop.ts): ≥ 200 SIGKILLs of a real server under ingest and compaction;
 * 2. the injected-fault run (test/fault-run.ts): memory and filesystem drivers, EIO/ENOSPC/timeouts;
 * 3. the load run (scripts/load.ts): a rate held, twice the rate limited, recovery; RSS and fds sampled.
 *
 * Any broken promise throws (exit 1). The figures printed at the end go into docs/reliability.md.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fsAtomicDriver } from "../storage-drivers/fs-atomic.ts";
import { memoryDriver } from "../storage-drivers/memory.ts";
import { runCrashLoop } from "../test/crash-loop.ts";
import { type FaultRunResult, runFaultScenario } from "../test/fault-run.ts";
import { runLoad } from "./load.ts";

function flag(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? Number(process.argv[at + 1]) : fallback;
}

const lives = flag("lives", 200);
const faultRounds = flag("fault-rounds", 1000);
const loadSeconds = flag("load-seconds", 180);
const rate = flag("rate", 40);
const batch = flag("batch", 100);
/** `--skip faults,load`: run only some parts (their figures print as 0). */
const skip = new Set((process.argv[process.argv.indexOf("--skip") + 1] ?? "").split(","));
if (!process.argv.includes("--skip")) skip.clear();
const started = Date.now();
const elapsed = () => `${Math.round((Date.now() - started) / 1000)} s`;

const dir = mkdtempSync(join(tmpdir(), "tally-soak-"));
const lines: string[] = [];
try {
  if (!skip.has("crash")) {
    console.log(`[soak] crash loop: ${lives} lives`);
    const crash = await runCrashLoop({
      dir: join(dir, "crash"),
      lives,
      seed: 20261130,
      progress: (life, s) => {
        if ((life + 1) % 25 === 0)
          console.log(
            `[soak]   life ${life + 1}: ${s.acknowledged} acknowledged, ${s.killsDuringCompact} kills during Compact (${elapsed()})`,
          );
      },
    });
    console.log(`[soak] crash loop done (${elapsed()}): ${JSON.stringify(crash)}`);
    lines.push(
      `crashes survived:     ${crash.kills} SIGKILLs (${crash.killsDuringCompact} during a Compact call); ${crash.tempFilesLeftByKills} temp files left by kills, ${crash.tempFilesRemaining} remaining after restart; ${crash.segmentsChecked} segments checked whole`,
      `events (crash loop):  ${crash.acknowledged} acknowledged, ${crash.found} found (each once), ${crash.sent} sent (${crash.retried} re-sent after a kill cut them off)`,
    );
  }

  if (!skip.has("faults")) {
    const diskRuns = Math.ceil(faultRounds / 300);
    console.log(`[soak] injected faults: ${faultRounds} rounds on memory, ${diskRuns * 100} on disk`);
    // Many runs of 100 rounds with their own seeds, rather than one long one: a run's cost grows with its
    // data (every round re-reads it through a fresh store); the number of runs does not.
    const runs: FaultRunResult[] = [];
    for (let i = 0; i < Math.ceil(faultRounds / 100); i++) {
      runs.push(await runFaultScenario({ seed: 1000 + i, rounds: 100, base: memoryDriver() }));
    }
    for (let i = 0; i < diskRuns; i++) {
      const base = fsAtomicDriver({ base: mkdtempSync(join(dir, "faults-")) });
      runs.push(await runFaultScenario({ seed: 2000 + i, rounds: 100, base }));
    }
    console.log(`[soak] faults done (${elapsed()}): ${runs.length} runs`);
    const sum = (f: (r: FaultRunResult) => number) => runs.reduce((n, r) => n + f(r), 0);
    lines.push(
      `faults injected:      ${sum((r) => r.faults.total)} (EIO ${sum((r) => r.faults.EIO)}, ENOSPC ${sum((r) => r.faults.ENOSPC)}, timeouts ${sum((r) => r.faults.timeout)}) over ${sum((r) => r.rounds)} rounds`,
      `events (faults):      ${sum((r) => r.acknowledged)} acknowledged, ${sum((r) => r.found)} found; ${sum((r) => r.writesFailed)} writes and ${sum((r) => r.queriesFailed)} queries failed cleanly, ${sum((r) => r.queriesAnswered)} queries answered right`,
    );
  }

  if (!skip.has("load")) {
    console.log(`[soak] load: ${loadSeconds} s at ${rate} req/s × ${batch} events`);
    const load = await runLoad({
      rate,
      batch,
      seconds: loadSeconds,
      log: (l) => console.log(`[soak]   ${l}`),
    });
    if (load.sustained.errors || load.sustained.limited || load.overload.errors || load.recovery.errors) {
      throw new Error(`the load run had errors: ${JSON.stringify(load)}`);
    }
    console.log(`[soak] load done (${elapsed()}): ${JSON.stringify(load)}`);
    lines.push(
      `load held:            ${load.sustained.eventsPerSecond} events/s (${rate} req/s × ${batch}) for ${loadSeconds} s, p50 ${load.sustained.p50} ms, p99 ${load.sustained.p99} ms, errors ${load.sustained.errors}`,
      `overload (2×):        ${load.overload.limited} of ${load.overload.requests} answered resource_exhausted (probe: p50 ${load.limitedAnswers.p50} ms, max ${load.limitedAnswers.max} ms, ${load.limitedAnswers.failures.length} connection failures), errors ${load.overload.errors}; recovery: ${load.recovery.ok} ok, errors ${load.recovery.errors}`,
      `RSS / fds:            RSS ${load.rssMiB.start} → ${load.rssMiB.end} MiB (max ${load.rssMiB.max}), open fds ${load.fds.start} → ${load.fds.end} (max ${load.fds.max})`,
    );
  }
  console.log(`\n[soak] summary (${elapsed()} in all)\n${lines.map((l) => `  ${l}`).join("\n")}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
