/**
 * Requests per second per API key: a token bucket per key (refilled at `requestsPerSecond`, holding up to
 * `requestBurst`). A call over the rate gets `resource_exhausted` at once — before any storage work — with
 * a retry hint: the `retry-after` response header (whole seconds, as HTTP defines it) and
 * `tally-retry-after-ms` (milliseconds). On gRPC both arrive as trailers. Runtime-neutral.
 *
 * One limiter serves every protocol and entry of a server (deps → limiter), so a client cannot double its
 * rate by mixing gRPC and Connect. Each process (or Worker isolate) counts for itself.
 */
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import type { Limits } from "./limits.ts";

/** Buckets kept at most; the idlest are dropped first (a full bucket is the same as none). */
const MAX_BUCKETS = 10_000;

export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    readonly rate: number,
    readonly burst: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Takes one token for `id`: 0 when the call may go ahead, otherwise the ms until it could. */
  take(id: string): number {
    const t = this.now();
    let bucket = this.buckets.get(id);
    if (bucket) {
      bucket.tokens = Math.min(this.burst, bucket.tokens + ((t - bucket.at) * this.rate) / 1000);
      bucket.at = t;
      // Keep the map ordered by last use, so eviction drops the idlest.
      this.buckets.delete(id);
    } else {
      bucket = { tokens: this.burst, at: t };
    }
    this.buckets.set(id, bucket);
    if (this.buckets.size > MAX_BUCKETS) this.buckets.delete(this.buckets.keys().next().value!);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - bucket.tokens) * 1000) / this.rate);
  }
}

const limiters = new WeakMap<Limits, RateLimiter>();

/** The one limiter of a server's limits, or undefined when requestsPerSecond is 0 (no limit). */
export function limiterFor(limits: Limits): RateLimiter | undefined {
  if (!(limits.requestsPerSecond > 0)) return undefined;
  let limiter = limiters.get(limits);
  if (!limiter) {
    const burst = limits.requestBurst > 0 ? limits.requestBurst : Math.max(1, limits.requestsPerSecond);
    limiter = new RateLimiter(limits.requestsPerSecond, burst);
    limiters.set(limits, limiter);
  }
  return limiter;
}

/**
 * The bucket a call counts against: its API key (the bearer token as sent; kept only in memory), or one
 * shared bucket for calls without one (open mode, or a call auth will refuse anyway).
 */
function bucketOf(header: Headers): string {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header.get("authorization") ?? "");
  return match ? `k:${match[1]}` : "anonymous";
}

export function rateLimitInterceptor(limits: Limits): Interceptor {
  return (next) => async (req) => {
    const limiter = limiterFor(limits);
    const wait = limiter?.take(bucketOf(req.header)) ?? 0;
    if (wait > 0) {
      throw new ConnectError(
        `rate limit: more than ${limiter!.rate} requests per second for this API key; retry in ${wait} ms`,
        Code.ResourceExhausted,
        { "retry-after": String(Math.max(1, Math.ceil(wait / 1000))), "tally-retry-after-ms": String(wait) },
      );
    }
    return next(req);
  };
}
