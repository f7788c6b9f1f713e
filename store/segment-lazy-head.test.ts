/**
 * A lazy segment's first read (the header and the body bytes after it, `headBody`): columns wholly in it
 * are taken from it, a column it cuts is fetched, and whatever is asked, in whatever order and however many
 * at once, the bytes equal a whole read's. Version-3 headers of a hostile shape are refused (whole) or read
 * whole (lazily).
 */
import { describe, expect, it } from "vitest";
import { generateEvents } from "../scripts/bench-data.ts";
import { segmentColumns } from "../test/segment-columns.ts";
import { crc32 } from "./crc32.ts";
import { TallyError } from "./errors.ts";
import { Segment } from "./segment.ts";
import { encodeSegment } from "./segment-encode.ts";

/** A compacted segment (per-column sums, rollup tables) of ~3,000 events: a few hundred KiB. */
const events = generateEvents(3000, { start: Date.UTC(2026, 0, 5), end: Date.UTC(2026, 0, 6) });
const bytes = encodeSegment(events, 1_000, ["a", "b"], true);
const columns = [...segmentColumns(bytes)];
const whole = new Segment(bytes, "seg");

/** A lazy segment on `bytes` whose first read was `head` bytes long, recording every later range read. */
function lazily(file: Uint8Array, head: number) {
  const reads: [number, number][] = [];
  const segment = Segment.lazy(file.slice(0, head), file.byteLength, {
    read: async (ranges) => {
      // A real driver answers after an await: give a concurrent load the chance to run in between.
      await new Promise((r) => setTimeout(r, 1));
      return ranges.map(([from, length]) => {
        reads.push([from, length]);
        return file.slice(from, from + length);
      });
    },
  });
  return { segment, reads };
}

/** Every column's bytes as the segment holds them (its private loaded map), compared with the file's. */
function expectSameColumns(segment: Segment, names: readonly string[]) {
  for (const name of names) {
    const c = segmentColumns(bytes).get(name)!;
    const held = (segment as unknown as { loadedColumns: Map<string, Uint8Array> }).loadedColumns.get(name);
    expect(held, name).toEqual(bytes.slice(c.start, c.start + c.length));
  }
}

describe("a lazy segment's first read", () => {
  it("is a few hundred KiB with tables after the header sum (the fixture is what the tests need)", () => {
    expect(bytes[4]).toBe(3);
    expect(bytes.byteLength).toBeGreaterThan(128 * 1024);
    expect(columns[0]![0]).toBe("hsum");
    expect(columns[1]![0]).toMatch(/^r\d+\./);
  });

  it("a column the head cuts is fetched whole, one wholly inside is not, and both equal the file", async () => {
    const [cutName, cut] = columns.slice(2).find(([, c]) => c.length >= 16)!;
    // The head ends half-way into `cut`.
    const head = cut.start + Math.floor(cut.length / 2);
    const inside = columns.filter(([n, c]) => n !== "hsum" && c.start + c.length <= head).map(([n]) => n);
    expect(inside.length).toBeGreaterThan(0);
    const { segment, reads } = lazily(bytes, head);
    expect(segment).toBeDefined();
    expect(await segment!.load([...inside, cutName])).toBe(true);
    expect(reads).toEqual([[cut.start, cut.length]]);
    expectSameColumns(segment!, [...inside, cutName]);
    // The rest: every column, then every event, as a whole read has them.
    expect(await segment!.load()).toBe(true);
    expect(segment!.complete).toBe(true);
    expectSameColumns(
      segment!,
      columns.map(([n]) => n).filter((n) => n !== "hsum"),
    );
    for (let i = 0; i < whole.count; i += 97) expect(segment!.event(i)).toEqual(whole.event(i));
  });

  it("a first load that wants nothing from the head drops it; a later one fetches head columns, checked", async () => {
    const head = 128 * 1024;
    const { segment, reads } = lazily(bytes, head);
    const before = segment!.heldBytes;
    expect(before).toBe(head);
    const far = columns.filter(([, c]) => c.start >= head).map(([n]) => n);
    const near = columns.filter(([n, c]) => n !== "hsum" && c.start + c.length <= head).map(([n]) => n);
    expect(far.length).toBeGreaterThan(0);
    expect(near.length).toBeGreaterThan(0);
    expect(await segment!.load([far[0]!])).toBe(true);
    const bodyStart = segmentColumns(bytes).get("hsum")!.start;
    const farLength = segmentColumns(bytes).get(far[0]!)!.length;
    // The head is let go: the segment holds its header and the one column.
    expect(segment!.heldBytes).toBe(bodyStart + farLength);
    expect(reads.length).toBe(1);
    expect(await segment!.load([near[0]!])).toBe(true);
    expect(reads.length).toBe(2);
    expectSameColumns(segment!, [far[0]!, near[0]!]);
  });

  it("heldBytes counts the head until the first load, then only the columns taken from it", async () => {
    const head = 128 * 1024;
    const { segment, reads } = lazily(bytes, head);
    const near = columns.filter(([n, c]) => n !== "hsum" && c.start + c.length <= head).map(([n]) => n);
    const grown: number[] = [];
    const counting = Segment.lazy(bytes.slice(0, head), bytes.byteLength, {
      read: async () => {
        throw new Error("no read expected");
      },
      loaded: () => grown.push(counting!.heldBytes),
    })!;
    for (const s of [segment!, counting]) {
      expect(s.heldBytes).toBe(head);
      expect(await s.load(near.slice(0, 3))).toBe(true);
      const bodyStart = segmentColumns(bytes).get("hsum")!.start;
      const taken = near.slice(0, 3).reduce((n, name) => n + segmentColumns(bytes).get(name)!.length, 0);
      expect(s.heldBytes).toBe(bodyStart + taken);
    }
    expect(reads).toEqual([]);
    expect(grown.length).toBe(1);
  });

  it("two loads at once (two queries on one cached segment) both get every column they asked for", async () => {
    const head = 128 * 1024;
    const near = columns.filter(([n, c]) => n !== "hsum" && c.start + c.length <= head).map(([n]) => n);
    const far = columns.filter(([, c]) => c.start >= head).map(([n]) => n);
    for (const [first, second] of [
      [[near[0]!, far[0]!], [near[0]!]],
      [
        [near[0]!, far[0]!],
        [near[1]!, far[1]!],
      ],
      [[far[0]!], [near[0]!, near[1]!]],
      [
        [near[0]!, far[0]!],
        [near[0]!, far[0]!],
      ],
    ] as const) {
      const { segment } = lazily(bytes, head);
      const [a, b] = await Promise.all([segment!.load(first), segment!.load(second)]);
      expect([a, b]).toEqual([true, true]);
      expectSameColumns(segment!, [...first, ...second]);
      expect(await segment!.load()).toBe(true);
      expect(segment!.complete).toBe(true);
      for (let i = 0; i < whole.count; i += 211) expect(segment!.event(i)).toEqual(whole.event(i));
    }
  });

  it("a load beside one that took columns from the head finds them there, not in another read", async () => {
    const head = 128 * 1024;
    const near = columns.filter(([n, c]) => n !== "hsum" && c.start + c.length <= head).map(([n]) => n);
    const far = columns.filter(([, c]) => c.start >= head).map(([n]) => n);
    const { segment, reads } = lazily(bytes, head);
    // The first takes near[0] from the head and waits on far[0]; the second wants near[0] meanwhile.
    const [a, b] = await Promise.all([segment!.load([near[0]!, far[0]!]), segment!.load([near[0]!])]);
    expect([a, b]).toEqual([true, true]);
    const farColumn = segmentColumns(bytes).get(far[0]!)!;
    expect(reads).toEqual([[farColumn.start, farColumn.length]]);
    expectSameColumns(segment!, [near[0]!, far[0]!]);
  });

  it("says whether it holds columns without loading them: absent names never count, loaded ones do", async () => {
    const head = 128 * 1024;
    const near = columns.filter(([n, c]) => n !== "hsum" && c.start + c.length <= head).map(([n]) => n);
    const far = columns.filter(([, c]) => c.start >= head).map(([n]) => n);
    const { segment, reads } = lazily(bytes, head);
    expect(segment!.holds([])).toBe(true);
    expect(segment!.holds(["no-such-column", "hsum"])).toBe(true);
    // Bytes that came with the header are not held until a load takes them.
    expect(segment!.holds([near[0]!])).toBe(false);
    expect(segment!.holds([far[0]!])).toBe(false);
    expect(await segment!.load([near[0]!, far[0]!])).toBe(true);
    expect(segment!.holds([near[0]!, far[0]!, "no-such-column"])).toBe(true);
    expect(segment!.holds([near[0]!, far[1]!])).toBe(false);
    expect(reads.length).toBe(1);
    expect(whole.holds(columns.map(([n]) => n))).toBe(true);
  });

  it("a damaged column in the head is data_loss at the first load that takes it, not before", async () => {
    const head = 128 * 1024;
    const near = columns.filter(([n, c]) => n !== "hsum" && c.length > 0 && c.start + c.length <= head);
    const [name, c] = near[near.length - 1]!;
    const damaged = bytes.slice();
    damaged[c.start]! ^= 0x10;
    const { segment } = lazily(damaged, head);
    expect(segment).toBeDefined();
    const error = await segment!.load([name]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TallyError);
    expect((error as TallyError).code).toBe("data_loss");
    expect((error as TallyError).message).toContain(`checksum mismatch in column ${name}`);
  });
});

/** `file` (version 3) with its header changed by `edit`, rewritten at its new length, every sum made to hold. */
function withHeader(file: Uint8Array, edit: (h: Record<string, unknown>) => void): Uint8Array {
  const length = new DataView(file.buffer, file.byteOffset).getUint32(8, true);
  const header = JSON.parse(new TextDecoder().decode(file.subarray(12, 12 + length)));
  edit(header);
  const json = new TextEncoder().encode(JSON.stringify(header));
  const oldStart = Math.ceil((12 + length) / 8) * 8;
  const start = Math.ceil((12 + json.length) / 8) * 8;
  const body = file.subarray(oldStart, file.length - 4);
  const out = new Uint8Array(start + body.length + 4);
  out.set(file.subarray(0, 8));
  new DataView(out.buffer).setUint32(8, json.length, true);
  out.set(json, 12);
  out.set(body, start);
  // The header sum, where the (edited) header says hsum is, if it is first.
  if ((header.columns as string).split(" ")[0] === "hsum")
    new DataView(out.buffer).setUint32(start, crc32(json), true);
  new DataView(out.buffer).setUint32(out.length - 4, crc32(out.subarray(0, out.length - 4)), true);
  return out;
}

function dataLoss(file: Uint8Array): TallyError {
  try {
    new Segment(file, "seg");
  } catch (error) {
    expect(error).toBeInstanceOf(TallyError);
    expect((error as TallyError).code).toBe("data_loss");
    return error as TallyError;
  }
  throw new Error("read without error");
}

/** Every event of `file` read whole, or a data_loss TallyError: never another error. */
function expectReadOrDataLoss(file: Uint8Array) {
  try {
    const s = new Segment(file, "seg");
    for (let i = 0; i < s.count; i++) s.event(i);
    for (const p of ["org", "userId", "supplies.name"]) s.path(p);
  } catch (error) {
    expect(error).toBeInstanceOf(TallyError);
    expect((error as TallyError).code).toBe("data_loss");
  }
}

const lazyOf = (file: Uint8Array) =>
  Segment.lazy(file.slice(0, 128 * 1024), file.byteLength, { read: async () => undefined });

describe("hostile version-3 headers", () => {
  type H = { columns: string; kinds: string; lengths: number[]; sums?: number[] };
  const h = (x: Record<string, unknown>) => x as unknown as H;

  it("the edit helper keeps an unedited segment readable, whole and lazily", () => {
    const same = withHeader(bytes, () => {});
    expect(new Segment(same, "seg").event(5)).toEqual(whole.event(5));
    expect(lazyOf(same)).toBeDefined();
  });

  it("lengths too long for the file, or overflowing a safe offset, are data_loss whole and read whole lazily", () => {
    for (const huge of [1e6, 2 ** 40, Number.MAX_SAFE_INTEGER]) {
      const file = withHeader(bytes, (x) => {
        h(x).lengths[3] = huge;
      });
      expect(dataLoss(file).message).toMatch(/^seg: truncated column /);
      expect(lazyOf(file)).toBeUndefined();
    }
    // Two lengths that sum past 2^53: offsets lose precision, but the column still lies past the end.
    const file = withHeader(bytes, (x) => {
      h(x).lengths[2] = Number.MAX_SAFE_INTEGER;
      h(x).lengths[3] = Number.MAX_SAFE_INTEGER;
    });
    expect(dataLoss(file).message).toMatch(/^seg: truncated column /);
    expect(lazyOf(file)).toBeUndefined();
    for (const bad of [-8, 1.5, "8", null]) {
      const file = withHeader(bytes, (x) => {
        (h(x).lengths as unknown[])[3] = bad;
      });
      expect(dataLoss(file).message, String(bad)).toBe("seg: corrupt header");
      expect(lazyOf(file)).toBeUndefined();
    }
  });

  it("names split by two spaces, or a trailing space, are refused unless every list agrees", () => {
    const doubled = withHeader(bytes, (x) => {
      h(x).columns = h(x).columns.replace(" ", "  ");
    });
    expect(dataLoss(doubled).message).toBe("seg: corrupt header");
    const trailing = withHeader(bytes, (x) => {
      h(x).kinds += " ";
    });
    expect(dataLoss(trailing).message).toBe("seg: corrupt header");
    expect(lazyOf(doubled)).toBeUndefined();
  });

  it("a header sum not first, or absent with sums, or sums absent, reads whole and lazily refuses", () => {
    const swap = (x: Record<string, unknown>) => {
      // hsum and the next column change places in the listing (and their bytes stay): hsum is not at 0.
      const names = h(x).columns.split(" ");
      const kinds = h(x).kinds.split(" ");
      for (const list of [names, kinds, h(x).lengths, h(x).sums!] as unknown[][]) {
        [list[0], list[1]] = [list[1], list[0]];
      }
      h(x).columns = names.join(" ");
      h(x).kinds = kinds.join(" ");
    };
    // Moved, the bytes no longer match their sums/kinds: whole reads fail on the first misplaced column or
    // succeed, but never crash; lazily it is read whole.
    const moved = withHeader(bytes, swap);
    expect(lazyOf(moved)).toBeUndefined();
    expectReadOrDataLoss(moved);
    const noSums = withHeader(bytes, (x) => {
      delete h(x).sums;
    });
    expect(new Segment(noSums, "seg").event(7)).toEqual(whole.event(7));
    expect(lazyOf(noSums)).toBeUndefined();
    const renamed = withHeader(bytes, (x) => {
      h(x).columns = h(x).columns.replace(/^hsum/, "hsux");
    });
    expect(new Segment(renamed, "seg").event(7)).toEqual(whole.event(7));
    expect(lazyOf(renamed)).toBeUndefined();
  });

  it("a row column renamed, or names joined by a tab, is data_loss, not a TypeError", () => {
    const renamed = withHeader(bytes, (x) => {
      h(x).columns = h(x).columns.replace(" time ", " tix ");
    });
    expect(dataLoss(renamed).message).toContain("missing column time");
    const tabbed = withHeader(bytes, (x) => {
      const names = h(x).columns.split(" ");
      const at = names.indexOf("lat");
      h(x).columns = [...names.slice(0, at), `lat\tlon`, ...names.slice(at + 2)].join(" ");
      h(x).kinds = h(x)
        .kinds.split(" ")
        .filter((_, i) => i !== at + 1)
        .join(" ");
      h(x).lengths.splice(at + 1, 1);
      h(x).sums!.splice(at + 1, 1);
    });
    expectReadOrDataLoss(tabbed);
    expect(() => new Segment(tabbed, "seg")).toThrow();
  });
});
