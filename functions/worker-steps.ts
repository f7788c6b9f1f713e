/**
 * Aggregations, ListEvents pages and events exports on Workers in bounded steps (store/stepped-query.ts),
 * each step in a fresh invocation.
 *
 * Workers cap the CPU time of one invocation. The invocation serving a QuerySeries, a QueryGeo, a
 * ListEvents page or an events export does no scanning itself: it sends each step, with the partial
 * state, to a fresh Durable Object (worker.ts, class QueryStep), and each of those requests is a new
 * invocation with a new CPU budget. (Time spent waiting on a subrequest is not CPU time.) The state
 * carries aggregated data, so a step request is signed with the server secret: a step endpoint never
 * aggregates anything for a request it did not sign.
 */
import { TallyError, type TallyErrorCode } from "../store/errors.ts";
import type { EventStore } from "../store/event-store.ts";
import {
  exportEventsStepped,
  listEventsStepped,
  queryGeoStepped,
  querySeriesStepped,
  runStep,
  type Step,
  type StepRunner,
} from "../store/stepped-query.ts";
import type { Aggregations } from "./service.ts";

/** The path of step requests (the Durable Object ignores it; it names them in logs). */
export const STEP_PATH = "/_tally/step";
const MAC_HEADER = "x-tally-step-mac";

/** Something that can fetch: a Durable Object stub on Workers. */
export interface Fetcher {
  fetch(request: Request): Promise<Response>;
}

export interface StepOptions {
  store: EventStore;
  /** Server secret: signs step requests. */
  secret: Uint8Array<ArrayBuffer>;
  /** Events one step scans before it hands over (it always finishes the partition it is in). */
  maxEvents: number;
  /** Where a step runs (a fresh Durable Object per step); without it, steps run one after another here. */
  remote?: Fetcher | undefined;
}

export class WorkerSteps {
  private readonly key: Promise<CryptoKey>;

  constructor(private readonly options: StepOptions) {
    this.key = crypto.subtle.importKey("raw", options.secret, { name: "HMAC", hash: "SHA-256" }, false, [
      "sign",
      "verify",
    ]);
  }

  /** The aggregations the service uses (ServiceDeps.aggregate). */
  aggregations(): Aggregations {
    const run = this.runner();
    return {
      series: (spec, limits) => querySeriesStepped(spec, limits, run),
      geo: (spec) => queryGeoStepped(spec, run),
      events: (spec, columns) => exportEventsStepped(spec, columns, run),
      list: (spec, limit, cursor) => listEventsStepped(spec, limit, cursor, run),
    };
  }

  private runner(): StepRunner {
    const { remote, store, maxEvents } = this.options;
    if (!remote) return (step) => runStep(store, step, maxEvents);
    return async (step) => {
      const body = new TextEncoder().encode(JSON.stringify(step));
      const mac = await crypto.subtle.sign("HMAC", await this.key, body);
      const res = await remote.fetch(
        new Request(`https://tally.internal${STEP_PATH}`, {
          method: "POST",
          headers: { "content-type": "application/json", [MAC_HEADER]: hex(new Uint8Array(mac)) },
          body,
        }),
      );
      const answer = (await res.json().catch(() => undefined)) as StepAnswer | undefined;
      if (answer && "step" in answer) return answer.step;
      // The step's own error (a group limit, storage unavailable), with its code, as if it ran here.
      if (answer && "error" in answer) throw new TallyError(answer.error.code, answer.error.message);
      throw new TallyError("unavailable", `a query step failed with HTTP ${res.status}; retry`);
    };
  }

  /** Serves one step request: verifies its signature, runs the step, returns the next. */
  async serve(request: Request): Promise<Response> {
    const body = new Uint8Array(await request.arrayBuffer());
    const mac = fromHex(request.headers.get(MAC_HEADER) ?? "");
    if (!mac || !(await crypto.subtle.verify("HMAC", await this.key, mac, body))) {
      return new Response("not a step request of this server\n", { status: 403 });
    }
    const step = JSON.parse(new TextDecoder().decode(body)) as Step;
    try {
      const next = await runStep(this.options.store, step, this.options.maxEvents);
      return Response.json({ step: next } satisfies StepAnswer);
    } catch (error) {
      const { code, message } =
        error instanceof TallyError ? error : { code: "internal" as const, message: String(error) };
      if (!(error instanceof TallyError)) console.error("[tally] query step failed:", error);
      return Response.json({ error: { code, message } } satisfies StepAnswer, { status: 500 });
    }
  }
}

type StepAnswer = { step: Step } | { error: { code: TallyErrorCode; message: string } };

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function fromHex(text: string): Uint8Array<ArrayBuffer> | undefined {
  if (!/^(?:[0-9a-f]{2})+$/.test(text)) return undefined;
  return Uint8Array.from(text.match(/../g)!, (h) => Number.parseInt(h, 16));
}
