/**
 * Every bad input gets `invalid_argument` (or the stated code) with a message naming the field, nothing
 * of a rejected batch is stored, and the next valid call works. Requests are Connect JSON, exactly as a
 * curl user sends them, to a server with BAD_INPUT_LIMITS: the Hono app in process (bad-input.test.ts)
 * or the Worker on workerd (test/workerd/bad-input.test.ts).
 */
import { describe, expect, it } from "vitest";
import type { Limits } from "./limits.ts";

export const BAD_INPUT_LIMITS: Partial<Limits> = {
  maxEventsPerBatch: 100,
  maxEventBytes: 2048,
  maxDepth: 4,
  maxKeys: 50,
};

/** A fetch of a path on the server under test. */
export type PathFetch = (path: string, init: RequestInit) => Promise<Response>;

export function badInputSuite(title: string, fetch: () => PathFetch): void {
  async function call(method: string, body: unknown) {
    const res = await fetch()(`/telemetry.v1.TelemetryService/${method}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: typeof body === "string" ? body : JSON.stringify(body),
    });
    return {
      status: res.status,
      body: (await res.json()) as { code?: string; message?: string } & Record<string, unknown>,
    };
  }

  const RANGE = { start: "2026-03-01T00:00:00Z", end: "2026-04-01T00:00:00Z" };
  const good = (n: number) =>
    Array.from({ length: n }, (_, i) => ({
      id: `g${i}`,
      type: "enrolled",
      time: "2026-03-05T10:00:00Z",
      data: { i },
    }));

  async function count(): Promise<number> {
    const res = await call("QuerySeries", { module: "mod-disco", range: RANGE, interval: "INTERVAL_TOTAL" });
    return (res.body.rows as { value: number }[])[0]!.value;
  }

  describe(`bad input ${title}`, () => {
    const recordCases: [string, unknown, RegExp][] = [
      ["no module", { events: good(1) }, /^module: required/],
      ["a module unstorage would misread", { module: "../etc", events: good(1) }, /^module: .*must match/],
      ["an upper-case module", { module: "Mod", events: good(1) }, /^module:/],
      ["no events", { module: "mod-disco", events: [] }, /^events: at least one/],
      ["too many events", { module: "mod-disco", events: good(101) }, /^events: 101 events; at most 100/],
      [
        "an event without type",
        { module: "mod-disco", events: [...good(3), { data: {} }] },
        /^events\[3\]\.type: required/,
      ],
      [
        "a latitude outside ±90",
        { module: "mod-disco", events: [...good(2), { type: "x", location: { lat: 91, lon: 0 } }] },
        /^events\[2\]\.location\.lat: 91 is outside -90\.\.90/,
      ],
      [
        "a longitude outside ±180",
        { module: "mod-disco", events: [{ type: "x", location: { lat: 0, lon: -180.5 } }] },
        /^events\[0\]\.location\.lon:/,
      ],
      [
        "data too big",
        { module: "mod-disco", events: [...good(1), { type: "x", data: { s: "x".repeat(3000) } }] },
        /^events\[1\]\.data: \d+ bytes as JSON; at most 2048/,
      ],
      [
        "data too deep",
        { module: "mod-disco", events: [{ type: "x", data: { a: { b: { c: { d: { e: 1 } } } } } }] },
        /^events\[0\]\.data\.a\.b\.c\.d: nested deeper than 4/,
      ],
      [
        "too many keys",
        {
          module: "mod-disco",
          events: [{ type: "x", data: { list: Array.from({ length: 60 }, (_, i) => i) } }],
        },
        /^events\[0\]\.data: more than 50 keys/,
      ],
      [
        "a control character in type",
        { module: "mod-disco", events: [{ type: "a\u0000b" }] },
        /^events\[0\]\.type: .*control/,
      ],
      [
        "an id too long",
        { module: "mod-disco", events: [{ type: "x", id: "i".repeat(300) }] },
        /^events\[0\]\.id: 300 characters/,
      ],
      [
        // Stored as UTF-8, a lone surrogate would become U+FFFD: two distinct ids one event (the store
        // would count them once). The JSON decoder refuses it, as the binary one refuses invalid UTF-8.
        "an id with a lone surrogate",
        { module: "mod-disco", events: [...good(1), { type: "x", id: "a\ud800" }] },
        /^events\[1\]\.id: cannot decode/,
      ],
      [
        "a time before 1970",
        { module: "mod-disco", events: [{ type: "x", time: "1969-12-31T23:59:59Z" }] },
        /^events\[0\]\.time:/,
      ],
      [
        "an unknown field",
        { module: "mod-disco", events: [{ type: "x" }, { type: "x", colour: "red" }] },
        /^events\[1\]\.colour: .*key "colour" is unknown/,
      ],
      ["a wrong JSON type", { module: "mod-disco", events: [{ type: 5 }] }, /^events\[0\]\.type: /],
      [
        "a time that is not RFC 3339",
        { module: "mod-disco", events: [{ type: "x" }, { type: "x", time: "yesterday" }] },
        /^events\[1\]\.time: /,
      ],
      [
        // Date.parse, under the protobuf library, would store it as 2 March.
        "a day the month does not have",
        { module: "mod-disco", events: [...good(2), { type: "x", time: "2026-02-29T12:00:00Z" }] },
        /^events\[2\]\.time: invalid RFC 3339 string "2026-02-29T12:00:00Z": February 2026 has 28 days/,
      ],
      [
        "hour 24",
        { module: "mod-disco", events: [{ type: "x", time: "2026-03-31T24:00:00+02:00" }] },
        /^events\[0\]\.time: invalid RFC 3339 string .*: hours run from 00 to 23/,
      ],
    ];

    it.each(recordCases)("RecordEvents refuses %s and stores nothing", async (_, body, message) => {
      const before = await count();
      const res = await call("RecordEvents", body);
      expect(res.body.code).toBe("invalid_argument");
      expect(res.status).toBe(400);
      expect(res.body.message).toMatch(message);
      expect(await count()).toBe(before);
      const ok = await call("RecordEvents", { module: "mod-disco", events: [{ type: "after-bad-input" }] });
      expect(ok.status).toBe(200);
      expect(ok.body.accepted).toBe(1);
    });

    const series = (extra: Record<string, unknown>) => ({ module: "mod-disco", range: RANGE, ...extra });
    const queryCases: [string, string, unknown, RegExp][] = [
      [
        "a misspelt field (timezone)",
        "QuerySeries",
        series({ timezone: "Europe/Berlin" }),
        /^timezone: .*key "timezone" is unknown/,
      ],
      [
        "an unknown time zone",
        "QuerySeries",
        series({ timeZone: "Mars/Olympus" }),
        /^timeZone: "Mars\/Olympus" is not an IANA/,
      ],
      ["no range", "QuerySeries", { module: "mod-disco" }, /^range: required/],
      [
        "a range ending on a day its month lacks",
        "ListEvents",
        { module: "mod-disco", range: { start: RANGE.start, end: "2026-04-31T00:00:00Z" } },
        /^range\.end: invalid RFC 3339 string "2026-04-31T00:00:00Z": April 2026 has 30 days/,
      ],
      [
        "end before start",
        "QuerySeries",
        series({ range: { start: RANGE.end, end: RANGE.start } }),
        /^range\.end: must be after/,
      ],
      [
        "end equal to start",
        "QuerySeries",
        series({ range: { start: RANGE.start, end: RANGE.start } }),
        /^range\.end:/,
      ],
      [
        "minute buckets over a century",
        "QuerySeries",
        series({
          range: { start: "1990-01-01T00:00:00Z", end: "2090-01-01T00:00:00Z" },
          interval: "INTERVAL_MINUTE",
        }),
        /^interval: about \d+ buckets; at most 100000/,
      ],
      [
        "a bad field path",
        "QuerySeries",
        series({ groupBy: ["org..x"] }),
        /^groupBy\[0\]: "org\.\.x" is not a field path/,
      ],
      [
        "an empty filter field",
        "QuerySeries",
        series({ filters: [{ op: "OPERATOR_EXISTS" }] }),
        /^filters\[0\]\.field: required/,
      ],
      [
        "no operator",
        "QuerySeries",
        series({ filters: [{ field: "org", values: ["a"] }] }),
        /^filters\[0\]\.op: required/,
      ],
      [
        "an unknown operator",
        "QuerySeries",
        series({ filters: [{ field: "org", op: "OPERATOR_LIKE" }] }),
        /^filters\[0\]\.op: .*OPERATOR_LIKE/,
      ],
      [
        "a string operand for GT",
        "QuerySeries",
        series({ filters: [{ field: "n", op: "OPERATOR_GT", values: ["5"] }] }),
        /^filters\[0\]\.values: exactly one number/,
      ],
      [
        "operands for EXISTS",
        "QuerySeries",
        series({ filters: [{ field: "n", op: "OPERATOR_EXISTS", values: [1] }] }),
        /^filters\[0\]\.values: must be empty/,
      ],
      [
        "EQ without operands",
        "QuerySeries",
        series({ filters: [{ field: "n", op: "OPERATOR_EQ" }] }),
        /^filters\[0\]\.values:/,
      ],
      [
        "SUM without a field",
        "QuerySeries",
        series({ aggregation: { function: "AGGREGATION_FUNCTION_SUM" } }),
        /^aggregation\.field: required/,
      ],
      ["a negative page size", "QuerySeries", series({ pageSize: -1 }), /^pageSize: must not be negative/],
      [
        "a garbage page token",
        "QuerySeries",
        series({ pageToken: "garbage!" }),
        /^pageToken: not a page token/,
      ],
      [
        "a forged page token",
        "QuerySeries",
        series({ pageToken: "eyJhIjoxLCJjIjp7fX0.AAAAAAAAAAAAAAAAAAAAAA" }),
        /^pageToken: does not belong/,
      ],
      [
        "a box with south above north",
        "QueryGeo",
        { module: "mod-disco", range: RANGE, geo: { box: { south: 10, west: 0, north: 5, east: 1 } } },
        /^geo\.box\.north:/,
      ],
      [
        "a circle without radius",
        "ListEvents",
        { module: "mod-disco", range: RANGE, geo: { circle: { center: { lat: 1, lon: 2 } } } },
        /^geo\.circle\.radiusMeters:/,
      ],
      [
        "a tiny cell",
        "QueryGeo",
        { module: "mod-disco", range: RANGE, cellDegrees: 0.00001 },
        /^cellDegrees:/,
      ],
      ["a bad module in a query", "ListEvents", { module: "a:b", range: RANGE }, /^module:/],
    ];

    it.each(queryCases)(
      "%s is refused with invalid_argument naming the field",
      async (_, method, body, message) => {
        const res = await call(method, body);
        expect(res.body.code).toBe("invalid_argument");
        expect(res.body.message).toMatch(message);
        expect((await call("QuerySeries", series({}))).status).toBe(200);
      },
    );

    it("refuses a page token of another query", async () => {
      await call("RecordEvents", { module: "mod-disco", events: good(20) });
      const first = await call("ListEvents", { module: "mod-disco", range: RANGE, pageSize: 2 });
      const token = first.body.nextPageToken as string;
      expect(token).not.toBe("");
      const other = await call("ListEvents", {
        module: "mod-disco",
        range: RANGE,
        pageSize: 2,
        types: ["x"],
        pageToken: token,
      });
      expect(other.body.code).toBe("invalid_argument");
      expect(other.body.message).toMatch(/^pageToken: does not belong to this query/);
      const same = await call("ListEvents", {
        module: "mod-disco",
        range: RANGE,
        pageSize: 2,
        pageToken: token,
      });
      expect(same.status).toBe(200);
    });

    it("answers a module with no events with zero-filled rows", async () => {
      const res = await call("QuerySeries", {
        module: "empty-module",
        range: { start: "2026-03-01T00:00:00Z", end: "2026-03-04T00:00:00Z" },
        interval: "INTERVAL_DAY",
      });
      expect(res.status).toBe(200);
      expect(res.body.rows).toEqual([
        { bucketStart: "2026-03-01T00:00:00Z", group: [], value: 0 },
        { bucketStart: "2026-03-02T00:00:00Z", group: [], value: 0 },
        { bucketStart: "2026-03-03T00:00:00Z", group: [], value: 0 },
      ]);
      expect(res.body.nextPageToken).toBe("");
    });
  });
}
