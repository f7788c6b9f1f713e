/**
 * One cold query for scripts/bench.ts, in a process of its own: a fresh EventStore (empty segment cache)
 * over the benchmark's data directory runs query number `--query` once. Only the query is timed, not the
 * process start-up. The OS page cache is not dropped: the files are read from memory, not from disk.
 *
 *   node --import tsx scripts/bench-cold.ts --dir <data dir> --query <index> --as-of <ms>
 *
 * Prints one JSON line: { ms, digest, maxRssBytes }.
 *
 * Peak RSS is read from /proc/self/status (VmHWM): process.resourceUsage().maxRSS of a spawned process
 * starts at its parent's RSS on Linux (it survives the fork and the exec), which here is the benchmark's
 * several GB, not this process's own.
 */
import { readFileSync } from "node:fs";
import { createStorage } from "unstorage";
import { nodeCrc32 } from "../functions/node-crc32.ts";
import { nodeInflate } from "../functions/node-inflate.ts";
import { fsAtomicDriver } from "../storage-drivers/fs-atomic.ts";
import { EventStore } from "../store/event-store.ts";
import { answerDigest, QUERIES, runTally } from "./bench-queries.ts";

const args = process.argv.slice(2);
const flag = (name: string) => {
  const i = args.indexOf(name);
  const value = i >= 0 ? args[i + 1] : undefined;
  if (value === undefined) throw new Error(`bench-cold: ${name} is required`);
  return value;
};
const dir = flag("--dir");
const query = QUERIES[Number(flag("--query"))];
if (!query) throw new Error("bench-cold: no such query");
const asOf = Number(flag("--as-of"));

const store = new EventStore({
  storage: createStorage({ driver: fsAtomicDriver({ base: dir }) }),
  inflate: nodeInflate,
  crc32: nodeCrc32,
});
const t = performance.now();
const { answer } = await runTally(store, query, asOf);
const ms = performance.now() - t;
console.log(JSON.stringify({ ms, digest: answerDigest(answer()), maxRssBytes: peakRssBytes() }));

function peakRssBytes(): number {
  try {
    const kib = /VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"))?.[1];
    if (kib) return Number(kib) * 1024;
  } catch {
    // Not Linux: fall through.
  }
  return process.resourceUsage().maxRSS * 1024;
}
