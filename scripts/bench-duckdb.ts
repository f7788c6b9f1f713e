/**
 * DuckDB as scripts/bench.ts's yardstick (@duckdb/node-api, a devDependency used only by the benchmark).
 *
 * The generated events are written once as tab-separated text (supplies and needs as JSON), loaded into an
 * in-memory table with typed columns — supplies as STRUCT(name, value, unit)[], needs as VARCHAR[], lat/lon
 * NULL when absent, time as a TIMESTAMP — in event (time) order, then exported to Parquet with COPY.
 */
import { closeSync, openSync, writeSync } from "node:fs";
import { type DuckDBConnection, DuckDBInstance } from "@duckdb/node-api";
import type { GeneratedEvent } from "./bench-data.ts";

/** Appends events to a TSV file that `loadTable` reads. No generated value holds a tab or a newline. */
export class TsvWriter {
  private readonly fd: number;
  constructor(readonly path: string) {
    this.fd = openSync(path, "w");
  }

  write(events: readonly GeneratedEvent[]): void {
    const lines: string[] = [];
    for (const e of events) {
      const d = e.data as Record<string, unknown>;
      const str = (v: unknown) => (v === undefined ? "" : String(v));
      lines.push(
        [
          e.id,
          e.type,
          e.time,
          str(d.org),
          str(d.project),
          str(d.userId),
          str(d.role),
          str(d.previousRole),
          Number.isNaN(e.lat) ? "" : e.lat,
          Number.isNaN(e.lon) ? "" : e.lon,
          d.supplies === undefined ? "" : JSON.stringify(d.supplies),
          d.needs === undefined ? "" : JSON.stringify(d.needs),
        ].join("\t"),
      );
    }
    writeSync(this.fd, `${lines.join("\n")}\n`);
  }

  close(): void {
    closeSync(this.fd);
  }
}

const quote = (path: string) => `'${path.replaceAll("'", "''")}'`;

export async function openDuck(
  threads: number,
): Promise<{ instance: DuckDBInstance; conn: DuckDBConnection }> {
  const instance = await DuckDBInstance.create(":memory:", { threads: String(threads) });
  const conn = await instance.connect();
  await conn.run("SET TimeZone = 'UTC'");
  return { instance, conn };
}

/** Creates table `events` from the TSV file and writes it to `parquetPath`; returns both load times. */
export async function loadTable(
  conn: DuckDBConnection,
  tsvPath: string,
  parquetPath: string,
): Promise<{ tableMs: number; parquetMs: number; parquetBytes: number }> {
  const t0 = performance.now();
  await conn.run(`
    CREATE TABLE events AS
    SELECT id, type, epoch_ms(t) AS ts, org, project, userId, role, previousRole,
      from_json(supplies, '[{"name":"VARCHAR","value":"INTEGER","unit":"VARCHAR"}]') AS supplies,
      from_json(needs, '["VARCHAR"]') AS needs,
      lat, lon
    FROM read_csv(${quote(tsvPath)}, delim = '\t', header = false, quote = '', escape = '', auto_detect = false,
      columns = {
        'id': 'VARCHAR', 'type': 'VARCHAR', 't': 'BIGINT', 'org': 'VARCHAR', 'project': 'VARCHAR',
        'userId': 'VARCHAR', 'role': 'VARCHAR', 'previousRole': 'VARCHAR', 'lat': 'DOUBLE', 'lon': 'DOUBLE',
        'supplies': 'VARCHAR', 'needs': 'VARCHAR'
      })`);
  const tableMs = performance.now() - t0;
  const t1 = performance.now();
  await conn.run(`COPY events TO ${quote(parquetPath)} (FORMAT parquet)`);
  const parquetMs = performance.now() - t1;
  const size = await conn.runAndReadAll(
    `SELECT sum(total_compressed_size)::DOUBLE AS b FROM parquet_metadata(${quote(parquetPath)})`,
  );
  return { tableMs, parquetMs, parquetBytes: Number(size.getRowObjectsJS()[0]?.b ?? 0) };
}

export async function rowsOf(conn: DuckDBConnection, sql: string): Promise<Record<string, unknown>[]> {
  const reader = await conn.runAndReadAll(sql);
  return reader.getRowObjectsJS() as Record<string, unknown>[];
}

export const parquetSource = (path: string) => `read_parquet(${quote(path)})`;

export async function countRows(conn: DuckDBConnection): Promise<number> {
  return Number((await rowsOf(conn, "SELECT count(*)::DOUBLE AS n FROM events"))[0]!.n);
}
