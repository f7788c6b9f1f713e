/**
 * `tally migrate`: moves a tenant from a data directory to another data directory (segments copied and
 * re-sealed with the destination's encryption keys) or to a running server (events re-recorded through
 * RecordEvents). Both are resumable — run the same command again — and check at the end that every
 * event arrived.
 */
import { type Command, Option } from "commander";
import { copyTenant } from "../../store/tenant-copy.ts";
import { type GlobalOptions, makeClient } from "../client.ts";
import { CliError, UsageError } from "../errors.ts";
import { checkTenant, openLocalStore } from "../local-store.ts";
import { migrateToServer } from "../migrate-to-server.ts";
import { jsonText, note, out, outputFormat } from "../output.ts";

interface MigrateFlags extends GlobalOptions {
  fromDir: string;
  fromConfig?: string;
  tenant: string;
  toDir?: string;
  toConfig?: string;
  to?: string;
  state?: string;
  batchSize: string;
}

export function migrateCommand(program: Command): Command {
  return program
    .command("migrate")
    .description("copy a tenant from a data directory to another directory or to a server; resumable")
    .requiredOption("--from-dir <dir>", "the source data directory")
    .option("--from-config <file>", "the source's configuration (encryption keys)")
    .requiredOption("--tenant <name>", "the tenant to copy")
    .addOption(new Option("--to-dir <dir>", "the destination data directory").conflicts("to"))
    .option("--to-config <file>", "the destination's configuration (its encryption keys seal the copy)")
    .option("--to <url>", "the destination server (its --token decides the tenant there)")
    .option("--state <file>", "with --to: remember finished partitions here, so a rerun skips them")
    .option("--batch-size <n>", "with --to: events per RecordEvents call", "1000")
    .action(async (_o: unknown, cmd: Command) => {
      const flags = cmd.optsWithGlobals<MigrateFlags>();
      const tenant = checkTenant(flags.tenant);
      if (!flags.toDir && !flags.to) throw new UsageError("give --to-dir <dir> or --to <server url>");
      const { store: source } = await openLocalStore(flags.fromDir, {
        mustExist: true,
        ...(flags.fromConfig ? { config: flags.fromConfig } : {}),
      });
      const format = outputFormat(flags.output);
      if (flags.toDir) {
        const { store: dest } = await openLocalStore(
          flags.toDir,
          flags.toConfig ? { config: flags.toConfig } : {},
        );
        const report = await copyTenant(source, dest, tenant);
        const short = report.modules.filter((m) => m.dest < m.source);
        if (short.length)
          throw new CliError(
            `events missing after the copy: ${short.map((m) => `${m.module} ${m.dest}/${m.source}`).join(", ")}`,
          );
        if (format === "table") {
          await out(`${tenant}: ${report.copied} of ${report.segments} segments copied to ${flags.toDir}\n`);
          for (const m of report.modules)
            await out(`  ${m.module}: ${m.source} events, ${m.dest} at the destination\n`);
        } else await out(jsonText(report));
        return;
      }
      const batchSize = Number(flags.batchSize);
      if (!Number.isInteger(batchSize) || batchSize < 1)
        throw new UsageError(`--batch-size ${flags.batchSize}: expected a number >= 1`);
      const client = makeClient({ ...flags, server: flags.to! });
      const result = await migrateToServer(source, tenant, client, {
        to: flags.to!,
        batchSize,
        ...(flags.state ? { statePath: flags.state } : {}),
        onPartition: (p, sent) => {
          if (format === "table") note(`${p}: ${sent} events`);
        },
      });
      if (format === "table")
        await out(
          `${tenant}: ${result.sent} events sent to ${flags.to} (${result.accepted} new, ${result.duplicates} already there), ${result.partitions - result.skipped} partitions, ${result.skipped} skipped as done\n`,
        );
      else await out(jsonText(result));
    });
}
