/** `tally record [file]`: NDJSON events (or `-f`: a whole RecordEventsRequest) → RecordEvents, in batches. */
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import { fromJson, type JsonValue } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { type Command, Option } from "commander";
import { timestampFault } from "../../functions/strict-timestamps.ts";
import {
  type Event,
  EventSchema,
  RecordEventsRequestSchema,
} from "../../proto/gen/telemetry/v1/telemetry_pb.ts";
import { type GlobalOptions, makeClient, type TelemetryClient } from "../client.ts";
import { CliError, UsageError } from "../errors.ts";
import { jsonText, note, out, outputFormat, progressBar } from "../output.ts";
import { decodeRequest, loadRequest } from "../request-flags.ts";

export interface Totals {
  accepted: number;
  duplicates: number;
}

/**
 * Sends `events` in batches of `batchSize`, with a progress bar on a terminal. A refused batch stops the
 * run; the error names the input line of the event the server complained about (`lines[i]` is where event
 * i came from) and how much was stored before — re-running is safe, as duplicates are not stored twice.
 */
export async function sendInBatches(
  client: TelemetryClient,
  module: string,
  events: Event[],
  batchSize: number,
  lines?: number[],
): Promise<Totals> {
  const totals: Totals = { accepted: 0, duplicates: 0 };
  const bar = progressBar(`recording into ${module}`, events.length, "events");
  try {
    for (let offset = 0; offset < events.length; offset += batchSize) {
      const batch = events.slice(offset, offset + batchSize);
      try {
        const res = await client.recordEvents({ module, events: batch });
        totals.accepted += res.accepted;
        totals.duplicates += res.duplicates;
      } catch (error) {
        throw locate(error, offset, lines, totals);
      }
      bar.update(offset + batch.length);
    }
  } finally {
    bar.stop();
  }
  return totals;
}

/** `events[3].location.lat: …` of a batch becomes `line 1004: events[1003].location.lat: …` of the input. */
function locate(error: unknown, offset: number, lines: number[] | undefined, totals: Totals): unknown {
  if (!(error instanceof ConnectError) || error.code !== Code.InvalidArgument) return error;
  const before = totals.accepted + totals.duplicates;
  const stored = before > 0 ? ` (the ${before} events before it were recorded)` : "";
  const message = error.rawMessage.replace(/^events\[(\d+)\]/, (_, i: string) => {
    const index = offset + Number(i);
    return `${lines ? `line ${lines[index]}: ` : ""}events[${index}]`;
  });
  return new CliError(`invalid argument: ${message}${stored}`);
}

/**
 * The whole input is read and checked before anything is sent: a malformed line stops the run with nothing
 * recorded (events without an id would be recorded twice by a re-run), and the total feeds the progress bar.
 */
async function readEvents(path: string | undefined): Promise<{ events: Event[]; lines: number[] }> {
  const input = path === undefined || path === "-" ? process.stdin : createReadStream(path);
  if (input === process.stdin && process.stdin.isTTY) note("reading NDJSON events from stdin (Ctrl-D ends)");
  const events: Event[] = [];
  const lines: number[] = [];
  let n = 0;
  for await (const line of createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY })) {
    n++;
    if (line.trim() === "") continue;
    let json: JsonValue;
    try {
      json = JSON.parse(line) as JsonValue;
    } catch (e) {
      throw new CliError(`line ${n}: not JSON: ${e instanceof Error ? e.message : String(e)}`);
    }
    // fromJson would read 2026-02-30 as 2 March.
    const fault = timestampFault(EventSchema, line);
    if (fault !== undefined) throw new CliError(`line ${n}: ${fault}`);
    try {
      events.push(fromJson(EventSchema, json));
    } catch (e) {
      throw new CliError(`line ${n}: ${e instanceof Error ? e.message : String(e)}`);
    }
    lines.push(n);
  }
  return { events, lines };
}

export function batchSize(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1)
    throw new UsageError(`--batch-size ${JSON.stringify(text)}: expected 1 or more`);
  return n;
}

export function recordCommand(program: Command): Command {
  return program
    .command("record")
    .description("record NDJSON events (one proto3 JSON Event per line) from a file or stdin (RecordEvents)")
    .argument("[file]", "NDJSON file; - or none for stdin")
    .addOption(new Option("--module <name>", "the module's store, e.g. mod-disco (required)"))
    .option("-f, --file <file>", "the whole RecordEventsRequest as JSON instead of NDJSON (- for stdin)")
    .option("--batch-size <n>", "events per RecordEvents call", "1000")
    .addHelpText(
      "after",
      '\nA line: {"id":"enrol-7f3a","type":"enrolled","time":"2026-03-29T09:30:00Z","data":{"org":"org-1"},' +
        '"location":{"lat":52.52,"lon":13.405}}\nRecording the same id and time again counts as a duplicate.\n' +
        'With -f: {"module":"mod-disco","events":[…]}, sent in batches as well; --module replaces its module.',
    )
    .action(async (path: string | undefined, _options: unknown, cmd: Command) => {
      const flags = cmd.optsWithGlobals<
        GlobalOptions & { module?: string; file?: string; batchSize: string }
      >();
      const size = batchSize(flags.batchSize);
      if (flags.file !== undefined && path !== undefined)
        throw new UsageError("give either an NDJSON file or -f with a request, not both");
      let input: { module?: string; events: Event[]; lines?: number[] };
      if (flags.file !== undefined) {
        const request = decodeRequest(
          RecordEventsRequestSchema,
          await loadRequest(RecordEventsRequestSchema, flags.file),
        );
        input = { module: request.module || undefined, events: request.events };
      } else input = await readEvents(path);
      const module = flags.module ?? input.module;
      if (!module) throw new UsageError('--module is required (or "module" in the -f request)');
      const client = makeClient(flags);
      const { events } = input;
      const totals = await sendInBatches(client, module, events, size, input.lines);
      const format = outputFormat(flags.output);
      if (format === "table") {
        await out(
          `${events.length} events read; ${totals.accepted} accepted, ${totals.duplicates} duplicates into ${module}\n`,
        );
      } else {
        await out(format === "json" ? jsonText(totals) : `${JSON.stringify(totals)}\n`);
      }
    });
}
