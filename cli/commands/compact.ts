/** `tally compact`: Compact — merge a module's small segments now (it also runs in the server's background). */
import { toJson } from "@bufbuild/protobuf";
import { type Command, Option } from "commander";
import { CompactResponseSchema } from "../../proto/gen/telemetry/v1/telemetry_pb.ts";
import { type GlobalOptions, makeClient } from "../client.ts";
import { jsonText, out, outputFormat } from "../output.ts";
import { parseTime } from "../times.ts";

export function compactCommand(program: Command): Command {
  return program
    .command("compact")
    .description("merge a module's small segments into large ones now; needs an admin key (Compact)")
    .addOption(new Option("--module <name>", "the module's store (required)").makeOptionMandatory())
    .option("--from <time>", "only partitions from this time (ISO 8601 or a date)")
    .option("--to <time>", "only partitions before this time")
    .action(async (_options: unknown, cmd: Command) => {
      const flags = cmd.optsWithGlobals<GlobalOptions & { module: string; from?: string; to?: string }>();
      const now = Date.now();
      const range =
        flags.from || flags.to
          ? {
              start: timestamp(flags.from ? parseTime(flags.from, "UTC", now).ms : 0),
              end: timestamp(flags.to ? parseTime(flags.to, "UTC", now).ms : now + 86_400_000),
            }
          : undefined;
      const res = await makeClient(flags).compact({ module: flags.module, ...(range ? { range } : {}) });
      const format = outputFormat(flags.output);
      if (format === "table") {
        await out(
          `${flags.module}: ${res.partitions} partitions, ${res.segmentsBefore} segments before, ${res.segmentsAfter} after\n`,
        );
      } else {
        const json = toJson(CompactResponseSchema, res, { alwaysEmitImplicit: true });
        await out(format === "json" ? jsonText(json) : `${JSON.stringify(json)}\n`);
      }
    });
}

function timestamp(ms: number) {
  return { seconds: BigInt(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1_000_000 };
}
