/**
 * `tally`: the command-line client of Tally's API — a command per RPC, request fields as flags, answers as
 * tables or as the RPC's own JSON — plus `serve` and `demo`.
 */
import { readFileSync } from "node:fs";
import { Command, InvalidArgumentError, Option } from "commander";
import { backupCommand, restoreCommand } from "./commands/backup.ts";
import { compactCommand } from "./commands/compact.ts";
import { deleteCommand } from "./commands/delete.ts";
import { demoCommand } from "./commands/demo.ts";
import { eventsCommand } from "./commands/events.ts";
import { exportCommand } from "./commands/export.ts";
import { geoCommand } from "./commands/geo.ts";
import { keysCommand } from "./commands/keys.ts";
import { migrateCommand } from "./commands/migrate.ts";
import { recordCommand } from "./commands/record.ts";
import { seriesCommand } from "./commands/series.ts";
import { serveCommand } from "./commands/serve.ts";
import { CommanderError, commanderExitCode, describeError } from "./errors.ts";
import { withFieldSpellings } from "./flag-spellings.ts";
import { collect, HINTED, hinted } from "./request-flags.ts";

const { version } = JSON.parse(readFileSync(new URL("package.json", import.meta.url), "utf8")) as {
  version: string;
};

export function buildProgram(): Command {
  const program = new Command("tally")
    .description("Record and query Tally telemetry from the command line.")
    .version(version, "-V, --version")
    .addOption(
      new Option("--server <url>", "the Tally server").env("TALLY_SERVER").default("http://127.0.0.1:8787"),
    )
    .addOption(new Option("--token <key>", "API key, sent as Authorization: Bearer").env("TALLY_TOKEN"))
    .addOption(
      new Option("-o, --output <format>", "table on a terminal, json otherwise").choices([
        "table",
        "json",
        "ndjson",
      ]),
    )
    .option("--page-size <n>", "rows, bins or events per page")
    .addOption(hinted(new Option("--page-token <token>", "the page to fetch, from the previous page's hint")))
    .option("--all", "follow every page")
    // Throw instead of exiting, so that usage errors get exit code 2 and everything ends in one place.
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(`tally: ${text.replace(/^error: /, "")}`) })
    .configureHelp({ showGlobalOptions: true, sortSubcommands: false })
    .showSuggestionAfterError();
  // Subcommands inherit the settings above, so they are added after them.
  recordCommand(program);
  seriesCommand(program);
  geoCommand(program);
  eventsCommand(program);
  exportCommand(program);
  compactCommand(program);
  keysCommand(program);
  deleteCommand(program);
  backupCommand(program);
  restoreCommand(program);
  migrateCommand(program);
  serveCommand(program);
  demoCommand(program);
  refuseRepeats(program);
  return program;
}

/**
 * A flag that takes one value and is given twice (`--unique a --unique b`) is a usage error: commander
 * would keep the last one without a word. Repeatable flags are those that `collect` their values; for the
 * next-page hint's flags (HINTED) the last one counts.
 */
function refuseRepeats(command: Command): void {
  for (const option of command.options) {
    if (!(option.required || option.optional) || option.variadic || option.parseArg === collect) continue;
    if (HINTED.has(option)) continue;
    const parse = option.parseArg;
    option.argParser((value: string, previous: unknown) => {
      // "cli" once it was given on the command line; a default or the environment may be overridden.
      if (command.getOptionValueSource(option.attributeName()) === "cli")
        throw new InvalidArgumentError("It takes one value and was given more than once.");
      return parse ? parse(value, previous) : value;
    });
  }
  for (const sub of command.commands) refuseRepeats(sub);
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(withFieldSpellings(argv));
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) return commanderExitCode(error);
    const { line, exitCode } = describeError(error, program.opts<{ server: string }>().server);
    process.stderr.write(`tally: ${line}\n`);
    return exitCode;
  }
}

// `tally … | head` closes the pipe early: that is the reader being done, not an error.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(0);
  throw error;
});

process.exitCode = await main(process.argv);
