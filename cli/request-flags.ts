/**
 * Flags → request. Requests are assembled in their proto3 JSON form and only then decoded with the
 * generated schema, so that a `-f` request file and the flags meet in one shape (flags override the file's
 * fields), and so that the schema — strict about unknown fields — is the single judge of the result.
 */
import { readFile } from "node:fs/promises";
import { type DescMessage, fromJson, type JsonObject, type JsonValue, toJson } from "@bufbuild/protobuf";
import { type Command, Option } from "commander";
import { timestampFault } from "../functions/strict-timestamps.ts";
import { UsageError } from "./errors.ts";
import { NUMBER, parseBox, parseFilter, parseNear } from "./filters.ts";
import { parseTime } from "./times.ts";

export type QueryKind = "series" | "geo" | "events";

/** The query flags as commander hands them over (all strings; repeatable ones as arrays). */
export interface QueryFlags {
  file?: string;
  module?: string;
  type?: string[];
  from?: string;
  to?: string;
  filter?: string[];
  near?: string;
  box?: string;
  interval?: string;
  tz?: string;
  weekStart?: string;
  groupBy?: string[];
  unique?: string;
  sum?: string;
  avg?: string;
  min?: string;
  max?: string;
  cell?: string;
  minCount?: string;
  order?: string;
  pageSize?: string;
  pageToken?: string;
}

const DAY = 86_400_000;
const ALL: QueryKind[] = ["series", "geo", "events"];

/** The parser of a repeatable flag: every value, in order. Any other flag given twice is refused (main.ts). */
export const collect = (value: string, previous: string[] | undefined) => [...(previous ?? []), value];

/**
 * The flags a next-page hint pins (the range's ends, the page token): the hint is appended to the command
 * that printed it, so for these the last value counts, where any other one-value flag given twice is
 * refused (main.ts).
 */
export const HINTED = new WeakSet<Option>();
export function hinted(option: Option): Option {
  HINTED.add(option);
  return option;
}

/** Each query flag with the queries it belongs to: `export` offers the union and checks the fit itself. */
const QUERY_OPTIONS: { kinds: QueryKind[]; option: () => Option }[] = [
  {
    kinds: ALL,
    option: () => new Option("--module <name>", "the module's store, e.g. mod-disco (required)"),
  },
  {
    kinds: ALL,
    option: () => new Option("--type <type>", "only this event type (repeatable)").argParser(collect),
  },
  { kinds: ALL, option: () => hinted(new Option("--from <time>", "range start, inclusive (default: -7d)")) },
  { kinds: ALL, option: () => hinted(new Option("--to <time>", "range end, exclusive (default: now)")) },
  {
    kinds: ALL,
    option: () =>
      new Option("--filter <expr>", "a condition, see Filters below (repeatable)").argParser(collect),
  },
  {
    kinds: ALL,
    option: () => new Option("--near <lat,lon,radius>", "only located events within radius (m or km)"),
  },
  { kinds: ALL, option: () => new Option("--box <s,w,n,e>", "only located events inside this box") },
  {
    kinds: ["series"],
    option: () =>
      new Option("--interval <interval>", "bucket width (default: day)").choices([
        "minute",
        "hour",
        "day",
        "week",
        "month",
        "total",
      ]),
  },
  {
    kinds: ["series"],
    option: () => new Option("--tz <zone>", "IANA time zone the buckets align to (default: UTC)"),
  },
  {
    kinds: ["series"],
    option: () =>
      new Option("--week-start <day>", "first day of week buckets (default: monday)").choices([
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
      ]),
  },
  {
    kinds: ["series"],
    option: () => new Option("--group-by <field>", "group by this field (repeatable)").argParser(collect),
  },
  { kinds: ["series"], option: () => new Option("--unique <field>", "count distinct values of field") },
  { kinds: ["series"], option: () => new Option("--sum <field>", "sum the numbers field reaches") },
  { kinds: ["series"], option: () => new Option("--avg <field>", "average of the numbers field reaches") },
  { kinds: ["series"], option: () => new Option("--min <field>", "minimum of the numbers field reaches") },
  { kinds: ["series"], option: () => new Option("--max <field>", "maximum of the numbers field reaches") },
  { kinds: ["geo"], option: () => new Option("--cell <degrees>", "cell size in degrees (default: 1)") },
  { kinds: ["geo"], option: () => new Option("--min-count <n>", "leave out bins with fewer events") },
  {
    kinds: ["events"],
    option: () => new Option("--order <order>", "by time (default: asc)").choices(["asc", "desc"]),
  },
];

export const QUERY_HELP = `
Times (--from, --to):
  2026-03-01, 2026-03-01T09:30     local time in --tz (series) or UTC
  2026-03-01T09:30:00Z, …+02:00    an instant
  now, today, -7d, -12h, -30m, -2w relative to now (the next-page hint repeats them as instants)

Filters (--filter, all must hold; a field is \`type\` or a dotted path into data, e.g. supplies.name):
  field=value      equals (value: a number, true, false or null as such, anything else as text;
                   "5" in double quotes is the text 5)
  field=a|b        equals one of several values; field=["a|b",5] gives the values as a JSON array
  field!=value     equals none of the values (also true when the field is missing)
  field>5, field>=5, field<5, field<=5   compares numbers
  field~text       contains text, ignoring case (a|b for several)
  field?           exists
  !field           does not exist

Flags are request fields in kebab-case; --time-zone, --types and --cell-degrees (the fields' own
names) work as well as --tz, --type and --cell.

Request files (-f file, or -f - for stdin): the request in proto3 JSON, as in docs/api.md; flags given
as well replace the file's fields.`;

/** Adds the flags of the given queries (and `-f`) to a command. */
export function addQueryOptions(command: Command, kinds: QueryKind[], fileHelp: string): Command {
  command.option("-f, --file <file>", fileHelp);
  for (const { kinds: fits, option } of QUERY_OPTIONS) {
    if (fits.some((kind) => kinds.includes(kind))) command.addOption(option());
  }
  return command.addHelpText("after", QUERY_HELP);
}

/** The flags given that a query of `kind` has no field for, e.g. `--interval` on an events query. */
function misplacedFlags(kind: QueryKind, flags: QueryFlags): string[] {
  const misplaced: string[] = [];
  for (const { kinds, option } of QUERY_OPTIONS) {
    const o = option();
    if (!kinds.includes(kind) && flags[o.attributeName() as keyof QueryFlags] !== undefined)
      misplaced.push(o.long!);
  }
  return misplaced;
}

function integer(text: string, flag: string): number {
  if (!/^\d+$/.test(text.trim()))
    throw new UsageError(`${flag} ${JSON.stringify(text)}: expected a whole number`);
  return Number(text);
}

export interface BuiltQuery {
  /** The request in proto3 JSON. */
  json: JsonObject;
  /** Flags that pin what a relative or default range meant, for the next-page hint. */
  pinned: string[];
}

const AGGREGATIONS = [
  ["unique", "AGGREGATION_FUNCTION_COUNT_UNIQUE"],
  ["sum", "AGGREGATION_FUNCTION_SUM"],
  ["avg", "AGGREGATION_FUNCTION_AVG"],
  ["min", "AGGREGATION_FUNCTION_MIN"],
  ["max", "AGGREGATION_FUNCTION_MAX"],
] as const;

/** The flags of one query applied over `base` (a request file's JSON, or `{}`). */
export function applyQueryFlags(
  kind: QueryKind,
  flags: QueryFlags,
  base: JsonObject,
  now = Date.now(),
): BuiltQuery {
  const misplaced = misplacedFlags(kind, flags);
  if (misplaced.length > 0) throw new UsageError(`${misplaced.join(", ")}: not an option of ${kind} queries`);
  const json: JsonObject = { ...base };
  if (flags.module !== undefined) json.module = flags.module;
  if (!json.module) throw new UsageError('--module is required (or "module" in the -f request)');
  if (flags.type) json.types = flags.type;

  // Range: flags over the file; what is still missing is the last 7 days up to now.
  const zone = flags.tz ?? (typeof base.timeZone === "string" && base.timeZone ? base.timeZone : "UTC");
  const baseRange = (
    typeof base.range === "object" && base.range && !Array.isArray(base.range) ? base.range : {}
  ) as {
    start?: string;
    end?: string;
  };
  const given = (flag: string | undefined, fromFile: string | undefined) =>
    flag !== undefined
      ? parseTime(flag, zone, now)
      : fromFile !== undefined
        ? { ms: Date.parse(fromFile), relative: false }
        : undefined;
  const from = given(flags.from, baseRange.start);
  const toGiven = given(flags.to, baseRange.end);
  const to = toGiven ?? { ms: now, relative: true };
  const start = from ?? { ms: to.ms - 7 * DAY, relative: true };
  json.range = { start: new Date(start.ms).toISOString(), end: new Date(to.ms).toISOString() };
  const pinned =
    start.relative || to.relative
      ? ["--from", new Date(start.ms).toISOString(), "--to", new Date(to.ms).toISOString()]
      : [];

  if (flags.filter) json.filters = flags.filter.map(parseFilter);
  if (flags.near !== undefined && flags.box !== undefined)
    throw new UsageError("--near and --box: choose one");
  if (flags.near !== undefined) json.geo = parseNear(flags.near);
  if (flags.box !== undefined) json.geo = parseBox(flags.box);

  if (flags.interval !== undefined) json.interval = `INTERVAL_${flags.interval.toUpperCase()}`;
  if (flags.tz !== undefined) json.timeZone = flags.tz;
  if (flags.weekStart !== undefined) json.weekStart = `WEEKDAY_${flags.weekStart.toUpperCase()}`;
  if (flags.groupBy) json.groupBy = flags.groupBy;
  const aggregations = AGGREGATIONS.filter(([flag]) => flags[flag] !== undefined);
  if (aggregations.length > 1) {
    throw new UsageError(`${aggregations.map(([flag]) => `--${flag}`).join(", ")}: choose one aggregation`);
  }
  for (const [flag, fn] of aggregations) json.aggregation = { function: fn, field: flags[flag]! };

  if (flags.cell !== undefined) {
    const degrees = Number(flags.cell);
    // 0 would be proto3's "not set", the default 1°, as if the flag were not given.
    if (!NUMBER.test(flags.cell) || !(degrees >= 0.0001 && degrees <= 180))
      throw new UsageError(`--cell ${JSON.stringify(flags.cell)}: expected degrees from 0.0001 to 180`);
    json.cellDegrees = degrees;
  }
  if (flags.minCount !== undefined) json.minCount = integer(flags.minCount, "--min-count");
  if (flags.order !== undefined) json.order = `ORDER_${flags.order.toUpperCase()}`;
  if (flags.pageSize !== undefined) json.pageSize = integer(flags.pageSize, "--page-size");
  if (flags.pageToken !== undefined) json.pageToken = flags.pageToken;
  return { json, pinned };
}

/** JSON text from a file, or from stdin for `-`. */
export async function readInput(path: string): Promise<string> {
  if (path !== "-") return readFile(path, "utf8");
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/**
 * A `-f` request, checked against its schema and returned in canonical proto3 JSON (camelCase names, so
 * that flags replace `time_zone` as surely as `timeZone`).
 */
export async function loadRequest(schema: DescMessage, path: string): Promise<JsonObject> {
  const text = await readInput(path);
  const name = path === "-" ? "stdin" : path;
  let json: JsonValue;
  try {
    json = JSON.parse(text) as JsonValue;
  } catch (e) {
    throw new UsageError(`${name}: not JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  // fromJson would read 2026-02-30 as 2 March, and toJson then write that.
  const fault = timestampFault(schema, text);
  if (fault !== undefined) throw new UsageError(`${name}: ${fault}`);
  try {
    return toJson(schema, fromJson(schema, json)) as JsonObject;
  } catch (e) {
    throw new UsageError(`${name}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** Decodes an assembled request; a flag value the schema refuses is a usage error. */
export function decodeRequest<Desc extends DescMessage>(schema: Desc, json: JsonObject) {
  try {
    return fromJson(schema, json);
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message : String(e));
  }
}
