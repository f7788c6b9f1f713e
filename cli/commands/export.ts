/** `tally export`: ExportCsv, the server-streamed CSV of a whole series, geo or events query. */
import { createWriteStream, type WriteStream } from "node:fs";
import { rename, unlink } from "node:fs/promises";
import { finished } from "node:stream/promises";
import type { JsonObject } from "@bufbuild/protobuf";
import type { Command } from "commander";
import {
  type ExportCsvRequest,
  ExportCsvRequestSchema,
  Interval,
} from "../../proto/gen/telemetry/v1/telemetry_pb.ts";
import { type GlobalOptions, makeClient, type TelemetryClient } from "../client.ts";
import { UsageError } from "../errors.ts";
import { formatBytes, note, progressBar } from "../output.ts";
import {
  addQueryOptions,
  applyQueryFlags,
  collect,
  decodeRequest,
  loadRequest,
  type QueryFlags,
  type QueryKind,
} from "../request-flags.ts";

interface ExportFlags extends QueryFlags, GlobalOptions {
  series?: boolean;
  geo?: boolean;
  events?: boolean;
  bom?: boolean;
  columns?: string[];
  out?: string;
}

const KINDS: QueryKind[] = ["series", "geo", "events"];

/** The ExportCsvRequest: the query kind from the flags or the file, its fields from both (flags win). */
async function buildRequest(flags: ExportFlags): Promise<ExportCsvRequest> {
  const base = flags.file === undefined ? {} : await loadRequest(ExportCsvRequestSchema, flags.file);
  const chosen = KINDS.filter((kind) => flags[kind]);
  if (chosen.length > 1) throw new UsageError(`${chosen.map((k) => `--${k}`).join(", ")}: choose one`);
  const kind = chosen[0] ?? KINDS.find((k) => base[k] !== undefined);
  if (!kind)
    throw new UsageError("what to export: --series, --geo or --events (or -f with an ExportCsvRequest)");
  const fileKind = KINDS.find((k) => base[k] !== undefined);
  if (fileKind && fileKind !== kind) throw new UsageError(`--${kind}: the -f request exports ${fileKind}`);
  if (flags.pageSize !== undefined || flags.pageToken !== undefined || flags.all) {
    throw new UsageError("--page-size, --page-token, --all: an export always holds every row");
  }
  const { json: query } = applyQueryFlags(kind, flags, (base[kind] ?? {}) as JsonObject);
  const json: JsonObject = { ...base, [kind]: query };
  if (flags.bom) json.bom = true;
  if (flags.columns !== undefined) {
    if (kind !== "events") throw new UsageError("--columns: only events exports have data columns");
    json.columns = flags.columns.flatMap((list) => list.split(",")).filter((c) => c !== "");
  }
  return decodeRequest(ExportCsvRequestSchema, json);
}

/**
 * The number of events an events export will hold, for the progress bar: a TOTAL series of the same query.
 * Only a nicety — if it fails, the bar shows counts without a total.
 */
async function expectedRows(client: TelemetryClient, request: ExportCsvRequest): Promise<number | undefined> {
  if (request.query.case !== "events") return undefined;
  const { module, types, range, filters, geo } = request.query.value;
  try {
    const res = await client.querySeries({ module, types, range, filters, geo, interval: Interval.TOTAL });
    return res.rows.reduce((sum, row) => sum + row.value, 0);
  } catch {
    return undefined;
  }
}

/** Counts CSV records as chunks pass: line breaks outside quoted fields (a quoted field may hold one). */
function recordCounter() {
  let quoted = false;
  let records = 0;
  return {
    add(chunk: Uint8Array) {
      for (const byte of chunk) {
        if (byte === 0x22) quoted = !quoted;
        else if (byte === 0x0a && !quoted) records++;
      }
    },
    get records() {
      return records;
    },
  };
}

async function write(stream: WriteStream | NodeJS.WriteStream, chunk: Uint8Array): Promise<void> {
  if (!stream.write(chunk)) await new Promise<void>((resolve) => stream.once("drain", resolve));
}

export function exportCommand(program: Command): Command {
  const command = program
    .command("export")
    .description("the whole answer of a series, geo or events query as CSV, streamed (ExportCsv)")
    .option("--series", "export a series query")
    .option("--geo", "export a geo query")
    .option("--events", "export an events query")
    .option("--out <file>", "write the CSV here (default: stdout)")
    .option("--bom", "start with a UTF-8 byte order mark, for Excel")
    .option(
      "--columns <paths>",
      "events only: the data paths to export as columns, comma-separated (repeatable)",
      collect,
    );
  addQueryOptions(command, KINDS, "the whole ExportCsvRequest as JSON (- for stdin)");
  return command.action(async (_options: unknown, cmd: Command) => {
    const flags = cmd.optsWithGlobals<ExportFlags>();
    const request = await buildRequest(flags);
    const client = makeClient(flags);
    const total = process.stderr.isTTY ? await expectedRows(client, request) : undefined;

    // Into a temporary file renamed at the end: a failed export leaves no truncated CSV behind.
    const partial = flags.out === undefined ? undefined : `${flags.out}.partial-${process.pid}`;
    const stream = partial === undefined ? process.stdout : createWriteStream(partial);
    const bar = progressBar("exporting", total, "rows");
    const counter = recordCounter();
    let bytes = 0;
    try {
      for await (const chunk of client.exportCsv(request)) {
        await write(stream, chunk.data);
        counter.add(chunk.data);
        bytes += chunk.data.length;
        // The first record is the header.
        bar.update(Math.max(0, counter.records - 1), { extra: formatBytes(bytes) });
      }
      if (partial !== undefined && flags.out !== undefined) {
        (stream as WriteStream).end();
        await finished(stream);
        await rename(partial, flags.out);
      }
    } catch (error) {
      if (partial !== undefined) {
        (stream as WriteStream).destroy();
        await unlink(partial).catch(() => {});
      }
      throw error;
    } finally {
      bar.stop();
    }
    if (flags.out !== undefined && process.stderr.isTTY) {
      note(`wrote ${Math.max(0, counter.records - 1)} rows (${formatBytes(bytes)}) to ${flags.out}`);
    }
  });
}
