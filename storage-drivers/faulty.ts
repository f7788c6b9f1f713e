/**
 * A driver wrapper that fails reads, writes, listings and removals at seeded points — with `EIO`, `ENOSPC`
 * or a timeout (`ETIMEDOUT` after a delay) — the way a failing disk or a flaky network store would, so the
 * fault suites can check that a failed write is never acknowledged and a query never answers wrong.
 *
 * A failing write or removal fails either before taking effect or, when `afterRate` says so, after it
 * (the bytes landed but the caller hears an error — as when the fsync or the reply is what fails). Reads
 * never return partial bytes: a real driver's read fails whole too. `diskFull` makes every write fail with
 * `ENOSPC` until it is cleared, the fallback where a small tmpfs cannot be mounted.
 *
 * Runtime-neutral (no `node:*`), so a Worker's storage could be wrapped the same way.
 *
 * @example
 * ```ts
 * const driver = faultyDriver({ driver: memoryDriver(), seed: 42, rate: { read: 0.05, write: 0.1 } });
 * const storage = createStorage({ driver });
 * driver.faults.enabled = false; // stop injecting
 * ```
 *
 * @module
 */
import type { Driver } from "unstorage";

export const DRIVER_NAME = "tally-faulty";

export type FaultOp = "read" | "write" | "list" | "remove";
export type FaultKind = "EIO" | "ENOSPC" | "timeout";

export interface FaultyOptions {
  /** The driver whose operations fail. */
  driver: Driver;
  /** Seeds the fault sequence: the same seed and the same calls give the same faults. */
  seed: number;
  /** Chance in [0, 1] that one operation of each kind fails. Default 0 for each. */
  rate?: Partial<Record<FaultOp, number>>;
  /** The errors to pick from. Default all three; `ENOSPC` is only ever given to writes. */
  kinds?: FaultKind[];
  /** How long a timeout hangs before it fails (ms). Default 20. */
  timeoutMs?: number;
  /** Chance that a failing write or removal fails after taking effect. Default 0.3. */
  afterRate?: number;
}

/** Live controls and counters of a faulty driver. */
export interface FaultControl {
  /** Whether faults are injected at all (`diskFull` applies regardless). */
  enabled: boolean;
  /** Every write fails with ENOSPC before taking effect. */
  diskFull: boolean;
  rate: Record<FaultOp, number>;
  /** Faults injected so far, by kind and by operation. */
  readonly injected: Record<FaultKind, number> & Record<FaultOp, number> & { total: number };
}

/** mulberry32: a small, fast, seedable generator; good enough to place faults. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SYSCALL: Record<FaultOp, string> = { read: "read", write: "write", list: "scandir", remove: "unlink" };

function fsError(kind: FaultKind, op: FaultOp, key: string): Error {
  const code = kind === "timeout" ? "ETIMEDOUT" : kind;
  const text = { EIO: "i/o error", ENOSPC: "no space left on device", timeout: "operation timed out" }[kind];
  return Object.assign(new Error(`${code}: ${text}, ${SYSCALL[op]} (injected fault) '${key}'`), {
    code,
    syscall: SYSCALL[op],
    injected: true,
  });
}

/** Wraps `options.driver`; the returned driver's `faults` controls and counts the faults. */
export function faultyDriver(options: FaultyOptions): Driver & { faults: FaultControl } {
  const inner = options.driver;
  const random = prng(options.seed);
  const kinds = options.kinds ?? ["EIO", "ENOSPC", "timeout"];
  if (kinds.length === 0) throw new Error(`[unstorage] [${DRIVER_NAME}] Option \`kinds\` must not be empty`);
  const timeoutMs = options.timeoutMs ?? 20;
  const afterRate = options.afterRate ?? 0.3;
  const faults: FaultControl = {
    enabled: true,
    diskFull: false,
    rate: { read: 0, write: 0, list: 0, remove: 0, ...options.rate },
    injected: { EIO: 0, ENOSPC: 0, timeout: 0, read: 0, write: 0, list: 0, remove: 0, total: 0 },
  };

  /** The fault for this call, if any: drawn in call order, so a seed replays the same sequence. */
  const draw = (op: FaultOp): { kind: FaultKind; after: boolean } | undefined => {
    if (op === "write" && faults.diskFull) return { kind: "ENOSPC", after: false };
    if (!faults.enabled || random() >= faults.rate[op]) return undefined;
    const usable = kinds.filter((k) => k !== "ENOSPC" || op === "write");
    const kind = usable[Math.floor(random() * usable.length)] ?? "EIO";
    const after = (op === "write" || op === "remove") && random() < afterRate;
    return { kind, after };
  };

  const run = async <T>(op: FaultOp, key: string, call: () => Promise<T> | T): Promise<T> => {
    const fault = draw(op);
    if (!fault) return call();
    faults.injected[fault.kind]++;
    faults.injected[op]++;
    faults.injected.total++;
    if (fault.after) await call();
    if (fault.kind === "timeout") await new Promise((resolve) => setTimeout(resolve, timeoutMs));
    throw fsError(fault.kind, op, key);
  };

  const need = <K extends keyof Driver>(name: K): NonNullable<Driver[K]> => {
    const method = inner[name];
    if (typeof method !== "function") {
      throw new Error(`[unstorage] [${DRIVER_NAME}] the wrapped driver has no ${String(name)}`);
    }
    return method.bind(inner) as NonNullable<Driver[K]>;
  };
  const getItemRaw = need("getItemRaw");
  const setItemRaw = need("setItemRaw");

  return {
    // The wrapped driver's name: every error but an injected one is that driver's own.
    name: inner.name ?? DRIVER_NAME,
    options,
    faults,
    hasItem: (key, opts) => run("read", key, () => inner.hasItem(key, opts)),
    getItem: (key, opts) => run("read", key, () => inner.getItem(key, opts)),
    getItemRaw: (key, opts) => run("read", key, () => getItemRaw(key, opts)),
    setItem: (key, value, opts) => run("write", key, () => need("setItem")(key, value, opts)),
    setItemRaw: (key, value, opts) => run("write", key, () => setItemRaw(key, value, opts)),
    removeItem: (key, opts) => run("remove", key, () => need("removeItem")(key, opts)),
    getKeys: (base, opts) => run("list", base, () => inner.getKeys(base, opts)),
    clear: (base, opts) => run("remove", base, () => need("clear")(base, opts)),
    dispose: () => inner.dispose?.(),
  };
}
