import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { csvCell } from "./csv.ts";
import { csvPaths, flattenCells, flattenJsonText } from "./csv-flatten.ts";
import type { JsonObject, JsonValue } from "./json.ts";

/** The rule, written plainly over objects: nested objects by dotted path, arrays and {} as JSON text. */
function reference(data: JsonObject, out = new Map<string, string>(), prefix = ""): Map<string, string> {
  for (const [key, value] of Object.entries(data)) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (
      value !== null &&
      typeof value === "object" &&
      !Array.isArray(value) &&
      Object.keys(value).length > 0
    ) {
      reference(value, out, path);
    } else if (value !== null && typeof value === "object") out.set(path, csvCell(JSON.stringify(value)));
    else out.set(path, value === null ? "" : csvCell(value));
  }
  return out;
}

function flattened(data: JsonObject): Map<string, string> {
  const out = new Map<string, string>();
  flattenJsonText(JSON.stringify(data), (path, cell) => out.set(path, cell));
  return out;
}

describe("flattenJsonText", () => {
  it("writes nested objects by path, arrays as JSON, strings escaped and defused, null empty", () => {
    const data: JsonObject = {
      org: "=1+1",
      n: -5,
      ok: true,
      none: null,
      note: 'a "quoted", \\ back\nslash é 😀',
      meta: { a: { b: 1.5e-7 }, empty: {} },
      supplies: [{ name: "Childcare", value: 5 }, "x]}"],
      "key.with.dots": "v",
    };
    expect(Object.fromEntries(flattened(data))).toEqual({
      org: "'=1+1",
      n: "-5",
      ok: "true",
      none: "",
      note: '"a ""quoted"", \\ back\nslash é 😀"',
      "meta.a.b": "1.5e-7",
      "meta.empty": "{}",
      supplies: '"[{""name"":""Childcare"",""value"":5},""x]}""]"',
      "key.with.dots": "v",
    });
  });

  it("agrees with the plain rule on random data", () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string({ maxLength: 4 }), json, { maxKeys: 5 }), (data) => {
        expect(flattened(data)).toEqual(reference(data));
      }),
      { numRuns: 500 },
    );
  });

  it("lists the paths in emission order (csvPaths), and the cells by position (flattenCells)", () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string({ maxLength: 4 }), json, { maxKeys: 5 }), (data) => {
        const text = JSON.stringify(data);
        const emitted: [string, string][] = [];
        flattenJsonText(text, (path, cell) => emitted.push([path, cell]));
        expect(csvPaths(text)).toEqual(emitted.map(([path]) => path));
        const cells: string[] = [];
        flattenCells(text, (k, cell) => {
          expect(k).toBe(cells.length);
          cells.push(cell);
        });
        expect(cells).toEqual(emitted.map(([, cell]) => cell));
      }),
      { numRuns: 500 },
    );
  });
});

const json = fc.letrec<{ v: JsonValue }>((tie) => ({
  v: fc.oneof(
    { depthSize: "small" },
    fc.constant(null),
    fc.boolean(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.string({ unit: "grapheme" }),
    fc.array(tie("v"), { maxLength: 3 }),
    fc.dictionary(fc.string({ maxLength: 4 }), tie("v"), { maxKeys: 3 }),
  ),
})).v;
