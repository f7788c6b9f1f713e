/**
 * Tally's one error vocabulary. The store and the handlers throw `TallyError` with a closed set of codes
 * that mirror Connect's; the edge (functions/) translates them to `ConnectError`. Messages name the field
 * that was wrong, in the request's own terms (`events[3].location.lat`).
 */
export type TallyErrorCode =
  | "invalid_argument"
  | "not_found"
  | "unauthenticated"
  | "permission_denied"
  | "resource_exhausted"
  | "failed_precondition"
  | "unavailable"
  | "data_loss"
  | "internal";

export class TallyError extends Error {
  override readonly name = "TallyError";
  constructor(
    readonly code: TallyErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** `invalid_argument` for `field`: the message reads `<field>: <problem>`. */
export function invalidArgument(field: string, problem: string): TallyError {
  return new TallyError("invalid_argument", field ? `${field}: ${problem}` : problem);
}
