import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { flatten, reach } from "./flatten.ts";
import type { JsonObject, JsonValue } from "./json.ts";

function flattened(data: JsonObject): Map<string, JsonValue[]> {
  const out = new Map<string, JsonValue[]>();
  flatten(data, (path, value) => {
    const list = out.get(path) ?? [];
    list.push(value);
    out.set(path, list);
  });
  return out;
}

describe("flatten", () => {
  it("reaches through arrays of objects and arrays of strings", () => {
    const data: JsonObject = {
      org: "org-1",
      supplies: [
        { name: "Childcare", value: 5, unit: "hrs" },
        { name: "Tutoring", value: 2 },
      ],
      needs: ["Legal Help", ["Food"]],
      empty: [],
      nested: { a: { b: null } },
    };
    const f = flattened(data);
    expect(f.get("org")).toEqual(["org-1"]);
    expect(f.get("supplies.name")).toEqual(["Childcare", "Tutoring"]);
    expect(f.get("supplies.value")).toEqual([5, 2]);
    expect(f.get("supplies.unit")).toEqual(["hrs"]);
    expect(f.get("supplies")).toHaveLength(2);
    expect(f.get("needs")).toEqual(["Legal Help", "Food"]);
    expect(f.has("empty")).toBe(false);
    expect(f.get("nested.a.b")).toEqual([null]);
  });

  it("agrees with the reference reach() on every path of random data", () => {
    const key = fc.constantFrom("a", "b", "c", "name", "value");
    const json = fc.letrec<{ v: JsonValue }>((tie) => ({
      v: fc.oneof(
        { depthSize: "small" },
        fc.constant(null),
        fc.boolean(),
        fc.integer(),
        fc.string({ maxLength: 3 }),
        fc.array(tie("v"), { maxLength: 3 }),
        fc.dictionary(key, tie("v"), { maxKeys: 3 }),
      ),
    })).v;
    fc.assert(
      fc.property(fc.dictionary(key, json, { maxKeys: 4 }), (data) => {
        for (const [path, values] of flattened(data)) expect(values).toEqual(reach(data, path));
      }),
      { numRuns: 300 },
    );
  });
});
