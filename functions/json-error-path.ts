/**
 * connect-es refuses a JSON request it cannot decode with `invalid_argument`, but its message names a
 * message type, not the place in the request: `cannot decode message google.protobuf.Timestamp from JSON:
 * invalid RFC 3339 string` for one bad `time` among 10,000 events. The contract wants every bad input to
 * name its field (`events[3].time: …`), so this finds that place, using `fromJson` itself as the judge: a
 * key whose value alone decodes is not the culprit; the first one that does not is descended into.
 * Only called on the error path. Runtime-neutral.
 */
import { type DescMessage, fromJson, type JsonReadOptions, type JsonValue } from "@bufbuild/protobuf";

type JsonObject = { [key: string]: JsonValue };

export const isObject = (v: JsonValue | undefined): v is JsonObject =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** Well-known types have their own JSON forms (a Timestamp is a string, a Struct any object): leaves here. */
export const isLeafMessage = (m: DescMessage) => m.typeName.startsWith("google.protobuf.");

const decodes = (schema: DescMessage, json: JsonValue, options: Partial<JsonReadOptions>): boolean => {
  try {
    fromJson(schema, json, options);
    return true;
  } catch {
    return false;
  }
};

export const join = (path: string, key: string) => (path ? `${path}.${key}` : key);

/**
 * The JSON path (`events[3].location.lat`, `filters[0].op`, `range.foo`) of the first part of `json` that
 * keeps it from decoding as `schema`; undefined when it decodes, or when the fault is the whole request.
 */
export function jsonErrorPath(
  schema: DescMessage,
  json: JsonValue,
  options: Partial<JsonReadOptions> = {},
): string | undefined {
  if (decodes(schema, json, options)) return undefined;
  return locate(schema, json, "", options);
}

function locate(
  schema: DescMessage,
  json: JsonValue,
  path: string,
  options: Partial<JsonReadOptions>,
): string | undefined {
  if (!isObject(json)) return path || undefined;
  for (const [key, value] of Object.entries(json)) {
    const field = schema.fields.find((f) => f.jsonName === key || f.name === key);
    if (!field) {
      if (options.ignoreUnknownFields) continue;
      return join(path, key);
    }
    if (decodes(schema, { [key]: value }, options)) continue;
    const at = join(path, field.jsonName);
    if (field.fieldKind === "message" && !isLeafMessage(field.message)) {
      return locate(field.message, value, at, options) ?? at;
    }
    if (field.fieldKind === "list" && Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        const element = value[i]!;
        if (decodes(schema, { [key]: [element] }, options)) continue;
        const item = `${at}[${i}]`;
        if (field.listKind === "message" && !isLeafMessage(field.message)) {
          return locate(field.message, element, item, options) ?? item;
        }
        return item;
      }
    }
    return at;
  }
  // Every key decodes alone but not together (two members of one oneof): the fault is this object.
  return path || undefined;
}
