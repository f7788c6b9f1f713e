/**
 * `tally backup` and `tally restore`: one tenant of a data directory to one file and back. Consistent
 * while servers keep writing to the directory (store/tenant-copy.ts); the file holds the segments as
 * stored, so an encrypted store's backup is encrypted with its keys.
 */
import { once } from "node:events";
import { createReadStream, createWriteStream } from "node:fs";
import { rename, rm } from "node:fs/promises";
import type { Command } from "commander";
import { backupTenant, restoreBackup } from "../../store/backup.ts";
import type { GlobalOptions } from "../client.ts";
import { UsageError } from "../errors.ts";
import { checkTenant, openLocalStore } from "../local-store.ts";
import { formatBytes, jsonText, note, out, outputFormat } from "../output.ts";

export function backupCommand(program: Command): Command {
  return program
    .command("backup")
    .description("write one tenant of a data directory to one file (consistent while servers write)")
    .requiredOption("--data-dir <dir>", "the data directory")
    .requiredOption("--tenant <name>", "the tenant")
    .requiredOption("--out <file>", "the backup file")
    .option(
      "--config <file>",
      "the configuration (encryption keys); default TALLY_CONFIG or ./tally.config.json",
    )
    .action(async (_o: unknown, cmd: Command) => {
      const flags = cmd.optsWithGlobals<
        GlobalOptions & { dataDir: string; tenant: string; out: string; config?: string }
      >();
      const tenant = checkTenant(flags.tenant);
      const { store } = await openLocalStore(flags.dataDir, {
        mustExist: true,
        ...(flags.config ? { config: flags.config } : {}),
      });
      // Written beside the target and renamed at the end: a backup file that exists is a whole one.
      const temp = `${flags.out}.partial`;
      const file = createWriteStream(temp);
      let segments = 0;
      let bytes = 0;
      try {
        for await (const chunk of backupTenant(store, tenant, (_key, n) => {
          segments++;
          bytes += n;
        })) {
          if (!file.write(chunk)) await once(file, "drain");
        }
        file.end();
        await once(file, "finish");
        await rename(temp, flags.out);
      } catch (error) {
        file.destroy();
        await rm(temp, { force: true });
        throw error;
      }
      const format = outputFormat(flags.output);
      if (format === "table")
        await out(`${tenant}: ${segments} segments, ${formatBytes(bytes)} → ${flags.out}\n`);
      else await out(jsonText({ tenant, segments, bytes, file: flags.out }));
    });
}

export function restoreCommand(program: Command): Command {
  return program
    .command("restore")
    .description(
      "restore a backup file into a data directory (checked whole first; segments present are kept)",
    )
    .argument("<file>", "the backup file")
    .requiredOption("--data-dir <dir>", "the data directory")
    .option(
      "--config <file>",
      "the configuration (encryption keys); default TALLY_CONFIG or ./tally.config.json",
    )
    .action(async (path: string, _o: unknown, cmd: Command) => {
      const flags = cmd.optsWithGlobals<GlobalOptions & { dataDir: string; config?: string }>();
      const { store } = await openLocalStore(flags.dataDir, flags.config ? { config: flags.config } : {});
      const chunks = () => createReadStream(path) as AsyncIterable<Uint8Array>;
      const result = await restoreBackup(store, chunks).catch((error: unknown) => {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") throw new UsageError(`no such file: ${path}`);
        throw error;
      });
      if (result.written < result.segments)
        note(`${result.segments - result.written} segments were already there`);
      const format = outputFormat(flags.output);
      if (format === "table")
        await out(
          `${result.tenant}: ${result.written} of ${result.segments} segments restored into ${flags.dataDir}\n`,
        );
      else await out(jsonText(result));
    });
}
