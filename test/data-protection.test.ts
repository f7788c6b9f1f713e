/**
 * Data protection end to end, with real server processes and the `tally` CLI as users run it: stored keys
 * (bootstrapped in a data directory, managed through the server, revoked at once on a second server over
 * the same data), encryption at rest with a wrong key after a restart, `tally delete`, a backup taken
 * while a server keeps writing and restored elsewhere, and `tally migrate` to a directory and to a
 * server, each run twice (the rerun finds nothing left to do).
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, describe, expect, it } from "vitest";
import {
  serverClient as client,
  ROOT,
  runServerToExit,
  type ServerProcess,
  startServer,
} from "./server-process.ts";

const dirs: string[] = [];
const servers: ServerProcess[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "tally-protect-"));
  dirs.push(dir);
  return dir;
}

async function start(env: Record<string, string>): Promise<ServerProcess> {
  const server = await startServer(env);
  servers.push(server);
  return server;
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function tally(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const all: Record<string, string | undefined> = { ...process.env, ...env };
  for (const name of ["TALLY_TOKEN", "TALLY_SERVER", "TALLY_CONFIG", "TALLY_ENCRYPTION_KEYS"])
    if (!env[name]) delete all[name];
  const child = spawn(process.execPath, ["cli/bin/tally.mjs", ...args, "-o", "json"], {
    cwd: ROOT,
    env: all,
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  child.stdin.end();
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, stdout, stderr }));
  });
}

async function ok(run: Promise<Run>): Promise<unknown> {
  const r = await run;
  expect(r.stderr, r.stderr).toBe("");
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout);
}

const T0 = Date.UTC(2026, 5, 1);
const RANGE = { start: timestampFromMs(T0), end: timestampFromMs(T0 + 30 * 86_400_000) };
const batch = (prefix: string, n: number) =>
  Array.from({ length: n }, (_, i) => ({
    id: `${prefix}-${i}`,
    type: "enrolled",
    time: timestampFromMs(T0 + (i % 5) * 86_400_000 + i),
    data: { n: i, secret: "plaintext-marker" },
    location: { lat: 52.52, lon: 13.405 },
  }));

async function allIds(url: string, key: string, module: string): Promise<string[]> {
  const ids: string[] = [];
  let pageToken = "";
  do {
    const page = await client(url, key).listEvents({ module, range: RANGE, pageSize: 1000, pageToken });
    ids.push(...page.events.map((e) => e.id));
    pageToken = page.nextPageToken;
  } while (pageToken);
  return ids.sort();
}

const codeOf = (p: Promise<unknown>) =>
  p.then(
    () => "ok" as const,
    (e: unknown) => ConnectError.from(e).code,
  );

describe("stored API keys on real servers", () => {
  it("bootstraps in the data directory, manages keys through the server, and revokes at once everywhere", async () => {
    const data = tempDir();
    const boot = (await ok(
      tally([
        "keys",
        "create",
        "--data-dir",
        data,
        "--tenant",
        "acme",
        "--scopes",
        "admin,read,ingest",
        "--name",
        "boot",
      ]),
    )) as {
      key: string;
    };
    const a = await start({ DATA_DIR: data });
    const b = await start({ DATA_DIR: data });
    expect(a.output()).toContain("API keys stored with `tally keys`");
    // Keys are required now, and the open tenant is gone.
    expect(await codeOf(client(a.url).listEvents({ module: "m", range: RANGE }))).toBe(Code.Unauthenticated);
    const made = (await ok(
      tally(["keys", "create", "--server", a.url, "--token", boot.key, "--scopes", "ingest,read"]),
    )) as {
      key: string;
      info: { id: string; tenant: string };
    };
    expect(made.info.tenant).toBe("acme");
    expect(await client(b.url, made.key).recordEvents({ module: "m", events: batch("k", 3) })).toMatchObject({
      accepted: 3,
    });
    const listed = (await ok(tally(["keys", "list", "--server", b.url, "--token", boot.key]))) as {
      keys: { id: string }[];
    };
    expect(listed.keys.map((k) => k.id).sort()).toContain(made.info.id);
    expect(JSON.stringify(listed)).not.toContain(made.key.slice(22));
    // Revoked through server A: server B refuses the key on its very next request.
    await ok(tally(["keys", "revoke", made.info.id, "--server", a.url, "--token", boot.key]));
    expect(await codeOf(client(b.url, made.key).listEvents({ module: "m", range: RANGE }))).toBe(
      Code.Unauthenticated,
    );
    expect(await codeOf(client(a.url, made.key).listEvents({ module: "m", range: RANGE }))).toBe(
      Code.Unauthenticated,
    );
    // And the key file holds hashes only.
    const stored = readFileSync(join(data, "sys", "apikeys", made.info.id), "utf8");
    expect(stored).not.toContain(made.key.slice(22));
    const refused = await tally([
      "keys",
      "create",
      "--server",
      a.url,
      "--token",
      made.key,
      "--scopes",
      "read",
    ]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe(
      "tally: unauthenticated: this API key was revoked (pass --token or set TALLY_TOKEN)\n",
    );
  });
});

describe("encryption at rest on a real server", () => {
  it("stores no plaintext, reads after a restart, and fails clearly with the wrong key", async () => {
    const data = tempDir();
    const key = randomBytes(32).toString("base64");
    const s1 = await start({ DATA_DIR: data, TALLY_ENCRYPTION_KEYS: `k1=${key}` });
    await client(s1.url).recordEvents({ module: "m", events: batch("e", 20) });
    await s1.stop();
    const backup = join(tempDir(), "m.tbak");
    await ok(
      tally(["backup", "--data-dir", data, "--tenant", "default", "--out", backup], {
        TALLY_ENCRYPTION_KEYS: `k1=${key}`,
      }),
    );
    expect(readFileSync(backup).includes("plaintext-marker")).toBe(false);
    const s2 = await start({
      DATA_DIR: data,
      TALLY_ENCRYPTION_KEYS: `k2=${randomBytes(32).toString("base64")},k1=${key}`,
    });
    expect(await allIds(s2.url, "", "m")).toHaveLength(20);
    await s2.stop();
    // The wrong key is caught at start, not as a store full of "damaged" segments.
    const wrong = await runServerToExit({
      DATA_DIR: data,
      TALLY_ENCRYPTION_KEYS: `k1=${randomBytes(32).toString("base64")}`,
    });
    expect(wrong.code).toBe(1);
    expect(wrong.output).toContain(
      `encryption key "k1" is not the key this store's segments were sealed with`,
    );
    // Without any key, a sealed segment is refused by name.
    const s3 = await start({ DATA_DIR: data });
    const error = await client(s3.url)
      .listEvents({ module: "m", range: RANGE })
      .catch((e: unknown) => ConnectError.from(e));
    expect(error).toMatchObject({ code: Code.FailedPrecondition });
    expect((error as ConnectError).rawMessage).toMatch(
      /is encrypted with key "k1", but no encryption keys are configured$/,
    );
  });
});

describe("delete, backup and migrate with the CLI", () => {
  it("migrates out of a server (as out of a Worker's R2) to a directory and to a server, resumably", async () => {
    const source = await start({ DATA_DIR: tempDir() });
    const api = client(source.url);
    await api.recordEvents({ module: "mod-disco", events: batch("m", 1_234) });
    await api.recordEvents({ module: "sys-account", events: [...batch("s", 40), { type: "no-location" }] });
    await api.compact({ module: "mod-disco" });
    const whole = async (url: string, module: string) => {
      const events = [];
      let pageToken = "";
      do {
        const page = await client(url).listEvents({ module, range: RANGE, pageSize: 1000, pageToken });
        events.push(...page.events);
        pageToken = page.nextPageToken;
      } while (pageToken);
      return events;
    };
    const dir = tempDir();
    const state = join(tempDir(), "state.json");
    const fromArgs = ["migrate", "--from", source.url, "--module", "mod-disco", "--module", "sys-account"];
    const toDir = [...fromArgs, "--tenant", "default", "--to-dir", dir, "--state", state];
    const first = (await ok(tally(toDir))) as {
      modules: { module: string; listed: number; accepted: number }[];
    };
    expect(first.modules).toMatchObject([
      { module: "mod-disco", listed: 1_234, accepted: 1_234, duplicates: 0, skipped: false },
      { module: "sys-account", listed: 41, accepted: 41, duplicates: 0, skipped: false },
    ]);
    // With the state file a rerun skips both; without it, it resends and stores duplicates only.
    expect(await ok(tally(toDir))).toMatchObject({ modules: [{ skipped: true }, { skipped: true }] });
    expect(await ok(tally(toDir.slice(0, -2)))).toMatchObject({
      modules: [
        { accepted: 0, duplicates: 1_234 },
        { accepted: 0, duplicates: 41 },
      ],
    });
    const copy = await start({ DATA_DIR: dir });
    const target = await start({ DATA_DIR: tempDir() });
    expect(await ok(tally([...fromArgs, "--to", target.url]))).toMatchObject({
      modules: [{ accepted: 1_234 }, { accepted: 41 }],
    });
    for (const module of ["mod-disco", "sys-account"]) {
      const original = await whole(source.url, module);
      expect(await whole(copy.url, module)).toEqual(original);
      expect(await whole(target.url, module)).toEqual(original);
    }
    const nameless = await tally(["migrate", "--from", source.url, "--to-dir", dir, "--tenant", "default"]);
    expect(nameless.code).toBe(2);
    expect(nameless.stderr).toMatch(/--from needs --module/);
  });

  it("backs up while a server writes, restores elsewhere, deletes, and migrates to a directory and a server", async () => {
    const data = tempDir();
    const server = await start({ DATA_DIR: data, TALLY_ENCRYPTION_KEYS: "" });
    const api = client(server.url);
    await api.recordEvents({ module: "mod-disco", events: batch("a", 300) });
    await api.recordEvents({ module: "sys-account", events: batch("b", 50) });
    const acknowledged = await allIds(server.url, "", "mod-disco");
    // A writer keeps going (and compacting) during the backup.
    let writing = true;
    const writer = (async () => {
      for (let i = 0; writing; i++) {
        await api.recordEvents({ module: "mod-disco", events: batch(`w${i}`, 20) });
        if (i % 5 === 4) await api.compact({ module: "mod-disco" });
      }
    })();
    const file = join(tempDir(), "default.tbak");
    const backed = (await ok(
      tally(["backup", "--data-dir", data, "--tenant", "default", "--out", file]),
    )) as { segments: number };
    writing = false;
    await writer;
    expect(backed.segments).toBeGreaterThan(0);
    const restoredDir = tempDir();
    const restored = (await ok(tally(["restore", file, "--data-dir", restoredDir]))) as {
      written: number;
      segments: number;
    };
    expect(restored.written).toBe(restored.segments);
    const rerun = await tally(["restore", file, "--data-dir", restoredDir]);
    expect(JSON.parse(rerun.stdout)).toMatchObject({ written: 0 });
    expect(rerun.stderr).toBe(`tally: ${restored.segments} segments were already there\n`);
    const copy = await start({ DATA_DIR: restoredDir });
    const got = await allIds(copy.url, "", "mod-disco");
    for (const id of acknowledged) expect(got).toContain(id);
    expect(new Set(got).size).toBe(got.length);

    // Migration to another directory, then again (nothing left to copy).
    const moved = tempDir();
    const first = (await ok(
      tally(["migrate", "--from-dir", restoredDir, "--tenant", "default", "--to-dir", moved]),
    )) as {
      copied: number;
      modules: { module: string; source: number; dest: number }[];
    };
    expect(first.copied).toBeGreaterThan(0);
    for (const m of first.modules) expect(m.dest).toBe(m.source);
    expect(
      await ok(tally(["migrate", "--from-dir", restoredDir, "--tenant", "default", "--to-dir", moved])),
    ).toMatchObject({ copied: 0 });

    // Migration to a running server, keyed: the key decides the tenant there.
    const targetData = tempDir();
    const admin = (await ok(
      tally(["keys", "create", "--data-dir", targetData, "--tenant", "acme-eu", "--scopes", "ingest,read"]),
    )) as { key: string };
    const target = await start({ DATA_DIR: targetData });
    const state = join(tempDir(), "state.json");
    const args = [
      "migrate",
      "--from-dir",
      restoredDir,
      "--tenant",
      "default",
      "--to",
      target.url,
      "--token",
      admin.key,
      "--state",
      state,
      "--batch-size",
      "97",
    ];
    const sent = (await ok(tally(args))) as { sent: number; accepted: number; duplicates: number };
    expect(sent.accepted).toBe(got.length + 50);
    expect(sent.duplicates).toBe(0);
    expect(await allIds(target.url, admin.key, "mod-disco")).toEqual(got);
    expect(await ok(tally(args))).toMatchObject({ sent: 0, skipped: 10 });
    // Without the state file a rerun resends, and every event is a duplicate: nothing is doubled.
    const again = (await ok(tally(args.slice(0, -4)))) as { accepted: number; duplicates: number };
    expect(again).toMatchObject({ accepted: 0, duplicates: got.length + 50 });

    // Delete a module through the server; the other module stays.
    const deleted = (await ok(tally(["delete", "--server", copy.url, "--module", "mod-disco", "--yes"]))) as {
      segments: number;
    };
    expect(deleted.segments).toBeGreaterThan(0);
    expect(await allIds(copy.url, "", "mod-disco")).toEqual([]);
    expect(await allIds(copy.url, "", "sys-account")).toHaveLength(50);
    const refused = await tally(["delete", "--server", copy.url, "--all-modules"]);
    expect(refused).toMatchObject({ code: 2, stderr: "tally: deleting cannot be undone: add --yes\n" });
  });
});
