/**
 * `tally migrate`: moves a tenant from a data directory to another data directory (segments copied and
 * re-sealed with the destination's encryption keys) or to a running server (events re-recorded through
 * RecordEvents); or out of a running server — a Worker on R2 included — by ListEvents, into a data
 * directory or another server. All are resumable — run the same command again — and check that every
 * event arrived.
 */
import { type Command, Option } from "commander";
import { copyTenant } from "../../store/tenant-copy.ts";
import { type GlobalOptions, makeClient } from "../client.ts";
import { CliError, UsageError } from "../errors.ts";
import { checkTenant, openLocalStore } from "../local-store.ts";
import {
  type Destination,
  migrateFromServer,
  serverDestination,
  storeDestination,
} from "../migrate-from-server.ts";
import { migrateToServer } from "../migrate-to-server.ts";
import { jsonText, note, out, outputFormat } from "../output.ts";
import { collect } from "../request-flags.ts";

interface MigrateFlags extends GlobalOptions {
  fromDir?: string;
  fromConfig?: string;
  from?: string;
  fromToken?: string;
  module?: string[];
  tenant?: string;
  toDir?: string;
  toConfig?: string;
  to?: string;
  state?: string;
  batchSize: string;
}

export function migrateCommand(program: Command): Command {
  return program
    .command("migrate")
    .description("copy a tenant from a data directory or a server to another directory or server; resumable")
    .addOption(new Option("--from-dir <dir>", "the source data directory").conflicts("from"))
    .option("--from-config <file>", "the source's configuration (encryption keys)")
    .option("--from <url>", "the source server (its --from-token decides the tenant there)")
    .option("--from-token <key>", "with --from: a read key of the source server")
    .option(
      "--module <name>",
      "with --from: a module to copy (repeatable; the API lists no modules)",
      collect,
    )
    .option("--tenant <name>", "the tenant to copy (with --from: the tenant it becomes in --to-dir)")
    .addOption(new Option("--to-dir <dir>", "the destination data directory").conflicts("to"))
    .option("--to-config <file>", "the destination's configuration (its encryption keys seal the copy)")
    .option("--to <url>", "the destination server (its --token decides the tenant there)")
    .option("--state <file>", "with --to or --from: remember what is done here, so a rerun skips it")
    .option("--batch-size <n>", "with --to: events per RecordEvents call", "1000")
    .action(async (_o: unknown, cmd: Command) => {
      const flags = cmd.optsWithGlobals<MigrateFlags>();
      if (!flags.toDir && !flags.to) throw new UsageError("give --to-dir <dir> or --to <server url>");
      if (flags.from !== undefined) return fromServer(flags);
      if (flags.fromDir === undefined) throw new UsageError("give --from-dir <dir> or --from <server url>");
      const tenant = checkTenant(flags.tenant);
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

/** `--from <url>`: a tenant's named modules out of a server, into `--to-dir` or `--to`. */
async function fromServer(flags: MigrateFlags): Promise<void> {
  const modules = flags.module ?? [];
  if (modules.length === 0)
    throw new UsageError(
      "--from needs --module <name> (repeatable): the API does not list a tenant's modules",
    );
  const source = makeClient({ ...flags, server: flags.from!, token: flags.fromToken });
  let destination: Destination;
  if (flags.toDir) {
    const tenant = checkTenant(flags.tenant);
    const { store } = await openLocalStore(flags.toDir, flags.toConfig ? { config: flags.toConfig } : {});
    destination = storeDestination(store, tenant);
  } else destination = serverDestination(makeClient({ ...flags, server: flags.to! }));
  const format = outputFormat(flags.output);
  const copies = await migrateFromServer(source, modules, destination, {
    from: flags.from!,
    to: flags.toDir ?? flags.to!,
    ...(flags.state ? { statePath: flags.state } : {}),
    onPage: (module, listed) => {
      if (format === "table") note(`${module}: ${listed} events`);
    },
  });
  if (format !== "table") return out(jsonText({ modules: copies }));
  for (const c of copies)
    await out(
      c.skipped
        ? `${c.module}: done in an earlier run\n`
        : `${c.module}: ${c.listed} events copied (${c.accepted} new, ${c.duplicates} already there)\n`,
    );
}
