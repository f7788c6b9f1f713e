import { describe, expect, it } from "vitest";
import { type DashboardState, defaultState, encodeState, parseState } from "./state.ts";

describe("the dashboard's URL state", () => {
  it("is empty for the default view, and the empty URL is the default view", () => {
    expect(encodeState(defaultState())).toBe("");
    expect(parseState("")).toEqual(defaultState());
  });

  it("round-trips every field, including values with commas, quotes, newlines and emoji", () => {
    const state: DashboardState = {
      module: "sys-account",
      range: "custom",
      from: "2026-02-15",
      to: "2026-11-14",
      interval: "week",
      tz: "Australia/Lord_Howe",
      filters: {
        org: ["Acme, Inc.", 'The "Quoted" Org', "Line one\nLine two", "🌍 Global Aid 🚀"],
        project: ["x, y; z", "a&b=c"],
        type: ["user.joined"],
        supply: ["Zahnärztliche Hilfe"],
        need: ["Food", "Childcare"],
      },
      location: { kind: "circle", lat: -33.86882, lon: 151.20929, radiusKm: 50 },
      breakdown: "project",
      map: { zoom: 5.054, lon: 13.40495, lat: 52.52001 },
    };
    const search = encodeState(state);
    expect(parseState(search)).toEqual(state);
    // What the browser keeps is what it parses back.
    expect(parseState(new URL(`http://x/${search}`).search)).toEqual(state);
  });

  it("writes filters as repeated readable parameters", () => {
    const state = defaultState();
    state.filters.org = ["org-1", "org-2"];
    state.range = "7d";
    expect(encodeState(state)).toBe("?range=7d&org=org-1&org=org-2");
  });

  it("keeps a box, rounded to 1e-5 degrees, including one across the antimeridian", () => {
    const state = defaultState();
    state.location = { kind: "box", south: -20.123456789, west: 170, north: 10, east: -170 };
    const search = encodeState(state);
    expect(search).toBe(`?box=${encodeURIComponent("-20.12346,170,10,-170")}`);
    expect(parseState(search).location).toEqual({
      kind: "box",
      south: -20.12346,
      west: 170,
      north: 10,
      east: -170,
    });
  });

  it("keeps the map's zoom (to 1e-3) and center (to 1e-5 degrees); a zoom out of 1..256 is no view", () => {
    const state = defaultState();
    state.map = { zoom: 2.1435888, lon: -73.98765432, lat: 40.7484405 };
    const search = encodeState(state);
    expect(search).toBe(`?map=${encodeURIComponent("2.144,-73.98765,40.74844")}`);
    expect(parseState(search).map).toEqual({ zoom: 2.144, lon: -73.98765, lat: 40.74844 });
    expect(parseState("?map=300,0,0").map).toBeUndefined();
    expect(parseState("?map=2,0").map).toBeUndefined();
  });

  it("falls back to defaults field by field on a damaged link", () => {
    const ignored: string[] = [];
    const state = parseState(
      "?module=Bad Module&range=3y&interval=fortnight&from=2026-13&to=2026-01-01&box=1,2,3&near=95,0,10&by=colour&org=org-1&map=0.5,0,0&tz=Not/AZone",
      ignored,
    );
    expect(state).toEqual({ ...defaultState(), filters: { ...defaultState().filters, org: ["org-1"] } });
    // Each left out, so that the page can say the view is not the link's.
    expect(ignored).toEqual([
      "module=Bad Module",
      "from=2026-13",
      "to=2026-01-01",
      "range=3y",
      "interval=fortnight",
      "tz=Not/AZone",
      "box=1,2,3",
      "near=95,0,10",
      "by=colour",
      "map=0.5,0,0",
    ]);
    const fine: string[] = [];
    parseState("?module=sys-account&from=2026-03-01&to=2026-03-02&tz=Europe/Berlin&near=1,2,3&by=org", fine);
    expect(fine).toEqual([]);
  });

  it("ignores a custom range whose end is before its start, and repeated values", () => {
    const state = parseState("?from=2026-03-02&to=2026-03-01&need=Food&need=Food");
    expect(state.range).toBe("30d");
    expect(state.filters.need).toEqual(["Food"]);
  });
});
