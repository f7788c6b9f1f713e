/**
 * Where a segment file's columns lie, read straight from its header as a test that damages or inspects
 * the bytes needs it: version 3 lists them in body order (store/segment-format.ts `ColumnsInOrder`),
 * earlier versions by name (`cols`, `sums`).
 */

export interface FileColumn {
  kind: string;
  /** From the start of the file. */
  start: number;
  length: number;
  /** The column's CRC-32, when the segment has per-column sums. */
  sum: number | undefined;
}

/** The header JSON of a segment file, parsed. */
export function segmentHeader(bytes: Uint8Array): Record<string, unknown> {
  const length = new DataView(bytes.buffer, bytes.byteOffset).getUint32(8, true);
  return JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + length)));
}

/** The file's columns by name, in body order. */
export function segmentColumns(bytes: Uint8Array): Map<string, FileColumn> {
  const length = new DataView(bytes.buffer, bytes.byteOffset).getUint32(8, true);
  const body = Math.ceil((12 + length) / 8) * 8;
  const header = segmentHeader(bytes);
  const out = new Map<string, FileColumn>();
  if (bytes[4]! >= 3) {
    const names = (header.columns as string).split(" ");
    const kinds = (header.kinds as string).split(" ");
    const lengths = header.lengths as number[];
    const sums = header.sums as number[] | undefined;
    let offset = 0;
    names.forEach((name, i) => {
      out.set(name, { kind: kinds[i]!, start: body + offset, length: lengths[i]!, sum: sums?.[i] });
      offset = Math.ceil((offset + lengths[i]!) / 8) * 8;
    });
    return out;
  }
  const cols = header.cols as Record<string, [string, number, number]>;
  const sums = header.sums as Record<string, number> | undefined;
  const byOffset = Object.entries(cols).sort(([, a], [, b]) => a[1] - b[1]);
  for (const [name, [kind, offset, len]] of byOffset)
    out.set(name, { kind, start: body + offset, length: len, sum: sums?.[name] });
  return out;
}
