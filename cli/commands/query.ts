/**
 * The paged queries — series, geo, events — share one loop: build the request, fetch a page (or every page
 * with --all), print. `-o json` prints the RPC's answer itself, so the CLI is a faithful window on the API.
 */
import { type Message, toJson } from "@bufbuild/protobuf";
import type { GenMessage } from "@bufbuild/protobuf/codegenv2";
import type { Command } from "commander";
import { type GlobalOptions, makeClient, type TelemetryClient } from "../client.ts";
import { JSON_OPTIONS, jsonText, note, out, outputFormat, tableText } from "../output.ts";
import {
  addQueryOptions,
  applyQueryFlags,
  decodeRequest,
  loadRequest,
  type QueryFlags,
  type QueryKind,
} from "../request-flags.ts";

type PagedRequest = Message & { pageToken: string };
type PagedResponse = Message & { nextPageToken: string };

export interface QuerySpec<Req extends PagedRequest, Res extends PagedResponse, Item extends Message> {
  kind: QueryKind;
  name: string;
  description: string;
  requestSchema: GenMessage<Req>;
  responseSchema: GenMessage<Res>;
  itemSchema: GenMessage<Item>;
  call(client: TelemetryClient, request: Req): Promise<Res>;
  /** The answer's own array of items (rows, bins, events), so that --all can refill it. */
  items(response: Res): Item[];
  table(request: Req): { head: string[]; row(item: Item): string[] };
}

export function queryCommand<Req extends PagedRequest, Res extends PagedResponse, Item extends Message>(
  program: Command,
  spec: QuerySpec<Req, Res, Item>,
): Command {
  const command = program.command(spec.name).description(spec.description);
  addQueryOptions(command, [spec.kind], `the whole ${spec.requestSchema.name} as JSON (- for stdin)`);
  return command.action(async (_options: QueryFlags, cmd: Command) => {
    const flags = cmd.optsWithGlobals<QueryFlags & GlobalOptions>();
    await runQuery(spec, flags);
  });
}

async function runQuery<Req extends PagedRequest, Res extends PagedResponse, Item extends Message>(
  spec: QuerySpec<Req, Res, Item>,
  flags: QueryFlags & GlobalOptions,
): Promise<void> {
  const base = flags.file === undefined ? {} : await loadRequest(spec.requestSchema, flags.file);
  const { json, pinned } = applyQueryFlags(spec.kind, flags, base);
  const request = decodeRequest(spec.requestSchema, json);
  const format = outputFormat(flags.output);
  const client = makeClient(flags);

  const collected: Item[] = [];
  let response: Res;
  for (;;) {
    response = await spec.call(client, request);
    const items = spec.items(response);
    if (format === "ndjson") {
      // Streamed page by page: `--all -o ndjson` holds one page in memory, however long the answer.
      for (const item of items) await out(`${JSON.stringify(toJson(spec.itemSchema, item, JSON_OPTIONS))}\n`);
    } else {
      for (const item of items) collected.push(item);
    }
    if (!flags.all || !response.nextPageToken) break;
    request.pageToken = response.nextPageToken;
  }

  if (format === "json") {
    // With --all, one answer holding every page, as if the page size had been unlimited.
    const items = spec.items(response);
    if (flags.all) {
      items.length = 0;
      for (const item of collected) items.push(item);
    }
    await out(jsonText(toJson(spec.responseSchema, response, JSON_OPTIONS)));
  } else if (format === "table") {
    const { head, row } = spec.table(request);
    await out(tableText(head, collected.map(row)));
  }
  const next = response.nextPageToken;
  if (next) note(`more results; next page: --page-token ${next}${pinned.map((f) => ` ${f}`).join("")}`);
}
