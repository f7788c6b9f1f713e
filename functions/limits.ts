/**
 * Every limit Tally enforces, with its default. All are configurable (docs/configuration.md); each exists
 * so that one request cannot make the server do absurd work or hold absurd memory.
 */
export interface Limits {
  /** Largest request body, compressed or not (bytes). */
  maxRequestBytes: number;
  /** Events in one RecordEvents call. */
  maxEventsPerBatch: number;
  /** Bytes of one event's `data` as JSON. */
  maxEventBytes: number;
  /** Nesting depth of `data` (an object inside the top object is depth 2). */
  maxDepth: number;
  /** Object keys plus array elements in one event's `data`. */
  maxKeys: number;
  /** Length of `id` and `type` (characters). */
  maxNameLength: number;
  /** Time buckets of one QuerySeries. */
  maxBuckets: number;
  /** Distinct groups of one QuerySeries. */
  maxGroups: number;
  /** `types` of one query. */
  maxTypes: number;
  /** `filters` of one query, and `values` of one filter. */
  maxFilters: number;
  maxFilterValues: number;
  /** `groupBy` fields of one query. */
  maxGroupBy: number;
  /** Page sizes: default and maximum. */
  defaultPageSize: number;
  maxPageSize: number;
  defaultEventsPageSize: number;
  maxEventsPageSize: number;
  /** Calls per second per API key (token bucket; rate-limit.ts). 0: no limit. */
  requestsPerSecond: number;
  /** Calls one key may make at once after a pause. 0: one second's worth (requestsPerSecond). */
  requestBurst: number;
}

export const DEFAULT_LIMITS: Limits = {
  maxRequestBytes: 32 * 1024 * 1024,
  maxEventsPerBatch: 10_000,
  maxEventBytes: 64 * 1024,
  maxDepth: 16,
  maxKeys: 1_000,
  maxNameLength: 256,
  maxBuckets: 100_000,
  maxGroups: 10_000,
  maxTypes: 100,
  maxFilters: 50,
  maxFilterValues: 1_000,
  maxGroupBy: 4,
  defaultPageSize: 1_000,
  maxPageSize: 10_000,
  defaultEventsPageSize: 100,
  maxEventsPageSize: 1_000,
  requestsPerSecond: 0,
  requestBurst: 0,
};
