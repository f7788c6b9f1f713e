import { describe, expect, it } from "vitest";
import {
  breakdownRequest,
  cellForZoom,
  eventsRequest,
  geoRequest,
  json,
  queryContext,
  typesRequest,
  usersRequest,
  valuesRequest,
} from "./requests.ts";
import { defaultState } from "./state.ts";

function context() {
  const state = defaultState();
  state.module = "mod-disco";
  state.filters = {
    org: ["org-1", "Acme, Inc."],
    project: [],
    type: ["enrolled"],
    supply: ["Food"],
    need: ["Medical"],
  };
  state.location = { kind: "circle", lat: 52.52, lon: 13.405, radiusKm: 25 };
  state.breakdown = "need";
  return queryContext(state, "Europe/Berlin", { start: Date.UTC(2026, 2, 1), end: Date.UTC(2026, 3, 1) });
}

describe("the requests a view makes", () => {
  it("share module, types, range, value filters and location", () => {
    const common = {
      module: "mod-disco",
      types: ["enrolled"],
      range: { start: "2026-03-01T00:00:00Z", end: "2026-04-01T00:00:00Z" },
      filters: [
        { field: "org", op: "OPERATOR_EQ", values: ["org-1", "Acme, Inc."] },
        { field: "supplies.name", op: "OPERATOR_EQ", values: ["Food"] },
        { field: "needs", op: "OPERATOR_EQ", values: ["Medical"] },
      ],
      geo: { circle: { center: { lat: 52.52, lon: 13.405 }, radiusMeters: 25_000 } },
    };
    const ctx = context();
    expect(json.series(typesRequest(ctx))).toEqual({
      ...common,
      interval: "INTERVAL_DAY",
      timeZone: "Europe/Berlin",
      groupBy: ["type"],
      pageSize: 10_000,
    });
    expect(json.series(usersRequest(ctx))).toMatchObject({
      ...common,
      groupBy: ["type"],
      aggregation: { function: "AGGREGATION_FUNCTION_COUNT_UNIQUE", field: "userId" },
    });
    expect(json.series(breakdownRequest(ctx))).toMatchObject({
      ...common,
      interval: "INTERVAL_TOTAL",
      groupBy: ["needs"],
    });
    expect(json.geo(geoRequest(ctx, 0.5))).toEqual({ ...common, cellDegrees: 0.5, pageSize: 10_000 });
    expect(json.events(eventsRequest(ctx, "tok"))).toEqual({
      ...common,
      order: "ORDER_DESC",
      pageSize: 25,
      pageToken: "tok",
    });
  });

  it("offer filter values from the module and range alone", () => {
    expect(json.series(valuesRequest(context(), "supply"))).toEqual({
      module: "mod-disco",
      range: { start: "2026-03-01T00:00:00Z", end: "2026-04-01T00:00:00Z" },
      interval: "INTERVAL_TOTAL",
      groupBy: ["supplies.name"],
      pageSize: 10_000,
    });
  });

  it("make map cells finer as the map zooms in", () => {
    expect(cellForZoom(1)).toBe(4);
    expect(cellForZoom(2)).toBe(2);
    expect(cellForZoom(3)).toBe(1);
    expect(cellForZoom(64)).toBe(1 / 16);
    expect(cellForZoom(1e9)).toBe(1 / 256);
    expect(cellForZoom(0.1)).toBe(8);
  });
});
