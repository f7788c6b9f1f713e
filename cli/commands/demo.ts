/** `tally demo`: a realistic data set over the API, so that a newcomer has charts to look at at once. */
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { Command } from "commander";
import { type Event, EventSchema } from "../../proto/gen/telemetry/v1/telemetry_pb.ts";
import { generateEvents } from "../../scripts/bench-data.ts";
import { type GlobalOptions, makeClient } from "../client.ts";
import { UsageError } from "../errors.ts";
import { jsonText, out, outputFormat } from "../output.ts";
import { batchSize, sendInBatches, type Totals } from "./record.ts";

const DAY = 86_400_000;
const DAYS = 90;

interface DemoFlags extends GlobalOptions {
  modulePrefix: string;
  events: string;
  seed: string;
  batchSize: string;
}

function count(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1)
    throw new UsageError(`${flag} ${JSON.stringify(text)}: expected 1 or more`);
  return n;
}

export function demoCommand(program: Command): Command {
  return program
    .command("demo")
    .description(
      `record a realistic demo data set into sys-account and mod-disco, over the last ${DAYS} days`,
    )
    .option(
      "--module-prefix <prefix>",
      'prefix for the module names, e.g. demo → demo-mod-disco ("none": none)',
      "none",
    )
    .option("--events <n>", "events to generate, both modules together", "20000")
    .option("--seed <n>", "random seed: the same seed on the same day gives the same events", "42")
    .option("--batch-size <n>", "events per RecordEvents call", "1000")
    .action(async (_options: unknown, cmd: Command) => {
      const flags = cmd.optsWithGlobals<DemoFlags>();
      const total = count(flags.events, "--events");
      const size = batchSize(flags.batchSize);
      const prefix = flags.modulePrefix === "none" || flags.modulePrefix === "" ? "" : flags.modulePrefix;
      const moduleName = (name: string) => (prefix === "" ? name : `${prefix.replace(/-$/, "")}-${name}`);

      // Times come from a fixed anchor (the start of today, UTC), not from the clock: re-running today
      // regenerates the very same ids and times, which the server recognises as duplicates. Events later
      // than now are held back; a later run today records them, and nothing else twice.
      const anchor = Math.floor(Date.now() / DAY) * DAY;
      const now = Date.now();
      const generated = generateEvents(total, {
        seed: count(flags.seed, "--seed"),
        start: anchor - (DAYS - 1) * DAY,
        end: anchor + DAY,
      });
      const byModule = new Map<string, Event[]>();
      for (const e of generated) {
        if (e.time > now) continue;
        const module = moduleName(e.module);
        const list = byModule.get(module) ?? [];
        list.push(
          create(EventSchema, {
            id: e.id,
            type: e.type,
            time: timestampFromMs(e.time),
            data: e.data,
            location: Number.isNaN(e.lat) ? undefined : { lat: e.lat, lon: e.lon },
          }),
        );
        byModule.set(module, list);
      }

      const client = makeClient(flags);
      const results: Record<string, Totals> = {};
      for (const [module, events] of [...byModule].sort(([a], [b]) => a.localeCompare(b))) {
        results[module] = await sendInBatches(client, module, events, size);
      }

      if (outputFormat(flags.output) !== "table") {
        await out(jsonText(results));
        return;
      }
      for (const [module, totals] of Object.entries(results)) {
        await out(`${module}: ${totals.accepted} accepted, ${totals.duplicates} duplicates\n`);
      }
      const disco = moduleName("mod-disco");
      await out(
        "\nTry:\n" +
          `  tally series --module ${disco} --from -${DAYS}d --interval week --group-by type\n` +
          `  tally series --module ${disco} --from -30d --unique userId --filter supplies.name=Childcare\n` +
          `  tally geo --module ${disco} --from -${DAYS}d --cell 2 --min-count 5\n` +
          `  tally events --module ${moduleName("sys-account")} --from -1d --order desc --page-size 20\n`,
      );
    });
}
