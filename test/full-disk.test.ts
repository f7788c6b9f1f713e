/**
 * Full disk (issue #7, suite 3): the store on a 2 MiB tmpfs (mounted for the test; we run as root) under a
 * real server process. Where mounting is refused (an unprivileged container), the same checks run in
 * process over the faulty driver's injected ENOSPC instead; the test's name says which ran.
 *
 * Writes past the end of the space fail with `resource_exhausted` and store nothing; every event stored
 * before is still counted and listed; queries go on answering; no temp file is left; once space returns,
 * writes succeed again on the same server.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { createStorage } from "unstorage";
import { afterAll, describe, expect, it } from "vitest";
import { routerOptions, routes } from "../functions/routes.ts";
import { testDeps } from "../functions/test-deps.ts";
import { Interval, TelemetryService } from "../proto/gen/telemetry/v1/telemetry_pb.ts";
import { faultyDriver } from "../storage-drivers/faulty.ts";
import { memoryDriver } from "../storage-drivers/memory.ts";
import { bundleServer, type ServerProcess, startServer } from "./server-process.ts";

const dir = mkdtempSync(join(tmpdir(), "tally-full-"));
const mountPoint = join(dir, "disk");
/** Whether a tmpfs could be mounted here; otherwise the injected-ENOSPC fallback runs. */
const mounted = (() => {
  if (process.env.TALLY_TEST_NO_MOUNT) return false; // to run the fallback on purpose
  try {
    execFileSync("mkdir", ["-p", mountPoint]);
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=2m", "tmpfs", mountPoint], { stdio: "pipe" });
    return true;
  } catch (error) {
    console.log(
      `[full-disk] cannot mount a tmpfs (${String(error).split("\n")[0]}): injected ENOSPC instead`,
    );
    return false;
  }
})();
let server: ServerProcess | undefined;
afterAll(async () => {
  await server?.stop();
  if (mounted) execFileSync("umount", [mountPoint]);
  rmSync(dir, { recursive: true, force: true });
});

const T0 = Date.UTC(2026, 7, 1);
const MODULE = "mod-full";
const RANGE = { start: timestampFromMs(T0), end: timestampFromMs(T0 + 86_400_000) };
type Client = ReturnType<typeof createClient<typeof TelemetryService>>;

let next = 0;
/** 100 events with ~300 bytes of data each: ~40 KiB a segment. */
function batch() {
  return Array.from({ length: 100 }, () => {
    const n = next++;
    return {
      id: `e${n}`,
      type: "t",
      time: timestampFromMs(T0 + (n % 86_400) * 1000),
      data: { pad: `${n}`.padEnd(300, "x") },
    };
  });
}

async function codeOf(p: Promise<unknown>): Promise<Code | "ok"> {
  return p.then(
    () => "ok" as const,
    (e: unknown) => ConnectError.from(e).code,
  );
}

async function stored(client: Client) {
  const series = await client.querySeries({ module: MODULE, range: RANGE, interval: Interval.DAY });
  let listed = 0;
  let pageToken = "";
  do {
    const page = await client.listEvents({ module: MODULE, range: RANGE, pageSize: 1000, pageToken });
    listed += page.events.length;
    pageToken = page.nextPageToken;
  } while (pageToken);
  return { counted: series.rows.reduce((n, r) => n + r.value, 0), listed };
}

/** Fills the store until writes fail, then checks the failure, the data and the recovery. */
async function fillAndRecover(client: Client, makeRoom: () => void, tempFiles: () => number) {
  let acked = 0;
  let code: Code | "ok" = "ok";
  for (let i = 0; i < 400 && code === "ok"; i++) {
    const events = batch();
    code = await codeOf(client.recordEvents({ module: MODULE, events }));
    if (code === "ok") acked += events.length;
  }
  expect(code).toBe(Code.ResourceExhausted);
  expect(acked).toBeGreaterThan(0);
  // Full stays full: more writes fail the same way, and nothing of them is stored.
  for (let i = 0; i < 5; i++) {
    expect(await codeOf(client.recordEvents({ module: MODULE, events: batch() }))).toBe(
      Code.ResourceExhausted,
    );
  }
  expect(await stored(client)).toEqual({ counted: acked, listed: acked });
  expect(tempFiles()).toBe(0);

  makeRoom();
  const events = batch();
  expect(await client.recordEvents({ module: MODULE, events })).toMatchObject({ accepted: 100 });
  expect(await stored(client)).toEqual({ counted: acked + 100, listed: acked + 100 });
  return acked;
}

describe("full disk", () => {
  it.runIf(mounted)(
    "tmpfs of 2 MiB under a real server: resource_exhausted, data intact, resumes when space returns",
    async () => {
      const data = join(mountPoint, "data");
      server = await startServer(
        { DATA_DIR: data, TALLY_SECRET: "full-disk" },
        { entry: await bundleServer() },
      );
      const client = createClient(
        TelemetryService,
        createConnectTransport({ baseUrl: server.url, httpVersion: "1.1" }),
      );
      const temps = () =>
        readdirSync(data, { recursive: true, encoding: "utf8" }).filter((p) => p.includes(".tmp-")).length;
      const acked = await fillAndRecover(
        client,
        () => execFileSync("mount", ["-o", "remount,size=8m", mountPoint]),
        temps,
      );
      console.log(`[full-disk] tmpfs: ${acked} events stored before the disk was full`);
      expect(server.child.exitCode).toBe(null);
    },
  );

  it.runIf(!mounted)(
    "injected ENOSPC (tmpfs mount refused): resource_exhausted, data intact, resumes when space returns",
    async () => {
      const driver = faultyDriver({ driver: memoryDriver(), seed: 1 });
      const deps = testDeps({ storage: createStorage({ driver }) });
      const client = createClient(
        TelemetryService,
        createRouterTransport((router) => routes(router, deps), { router: routerOptions(deps) }),
      );
      let writes = 0;
      const real = driver.setItemRaw!;
      driver.setItemRaw = async (...args) => {
        if (++writes > 20) driver.faults.diskFull = true; // the disk fills after 20 segments
        return real(...args);
      };
      await fillAndRecover(
        client,
        () => {
          driver.setItemRaw = real;
          driver.faults.diskFull = false;
        },
        () => 0,
      );
    },
  );
});
