import { parse } from "csv-parse/sync";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { csvCell, csvRow, isoInZone } from "./csv.ts";

describe("CSV cells and rows (RFC 4180)", () => {
  it("quotes commas, quotes and line breaks, doubling quotes, and ends rows with CRLF", () => {
    expect(csvRow(["a", "b,c", 'say "hi"', "two\nlines", "cr\rhere"])).toBe(
      'a,"b,c","say ""hi""","two\nlines","cr\rhere"\r\n',
    );
  });

  it("defuses formula cells but leaves numbers alone", () => {
    expect(csvCell("=SUM(A1:A9)")).toBe("'=SUM(A1:A9)");
    expect(csvCell("+1")).toBe("'+1");
    expect(csvCell("-1")).toBe("'-1");
    expect(csvCell("@cmd")).toBe("'@cmd");
    expect(csvCell("\tx")).toBe("'\tx");
    expect(csvCell("\rx")).toBe(`"'\rx"`);
    expect(csvCell(-1)).toBe("-1");
    expect(csvCell(0.1)).toBe("0.1");
    expect(csvCell("a=b")).toBe("a=b");
  });

  it("writes unicode as it is, and null or missing as empty", () => {
    expect(csvRow(["Zürich", "東京", "😀", null, undefined, true])).toBe("Zürich,東京,😀,,,true\r\n");
  });

  it("round-trips any strings through a real CSV parser", () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.string({ unit: "grapheme" }), { minLength: 1, maxLength: 5 }), { minLength: 1 }),
        (rows) => {
          const width = rows[0]!.length;
          const table = rows.map((r) => Array.from({ length: width }, (_, i) => r[i] ?? ""));
          const text = table.map((r) => csvRow(r)).join("");
          const parsed = parse(text, { relax_column_count: false }) as string[][];
          const expected = table.map((r) => r.map((cell) => (/^[=+\-@\t\r]/.test(cell) ? `'${cell}` : cell)));
          expect(parsed).toEqual(expected);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe("CSV values", () => {
  it("formats bucket starts in the zone with its offset", () => {
    expect(isoInZone(Date.UTC(2026, 2, 28, 23), "Europe/Berlin")).toBe("2026-03-29T00:00:00+01:00");
    expect(isoInZone(Date.UTC(2026, 2, 29, 22), "Europe/Berlin")).toBe("2026-03-30T00:00:00+02:00");
    expect(isoInZone(Date.UTC(2026, 0, 1), "UTC")).toBe("2026-01-01T00:00:00+00:00");
    expect(isoInZone(Date.UTC(2026, 0, 1), "America/St_Johns")).toBe("2025-12-31T20:30:00-03:30");
    expect(isoInZone(Date.UTC(2026, 0, 1), "Asia/Kathmandu")).toBe("2026-01-01T05:45:00+05:45");
    // A TOTAL bucket starts at range.start, milliseconds and all; it must stay the same instant.
    expect(isoInZone(Date.UTC(2026, 2, 29, 10, 30, 7, 250), "Europe/Berlin")).toBe(
      "2026-03-29T12:30:07.250+02:00",
    );
    expect(isoInZone(Date.UTC(2026, 2, 29, 10, 30, 7, 5), "UTC")).toBe("2026-03-29T10:30:07.005+00:00");
    // Local mean time of whole seconds: Monrovia ran at -00:44:30 until 1972-01-07.
    expect(isoInZone(Date.UTC(1971, 11, 30, 0, 44, 30), "Africa/Monrovia")).toBe(
      "1971-12-30T00:00:00-00:44:30",
    );
    expect(isoInZone(Date.UTC(1972, 0, 7, 0, 44, 30), "Africa/Monrovia")).toBe("1972-01-07T00:44:30+00:00");
  });
});
