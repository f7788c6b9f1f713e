/**
 * The edge of the error vocabulary: TallyError (and anything unexpected) becomes a ConnectError with the
 * matching code. Unexpected errors are logged and answered as `internal` without their details.
 */
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { TallyError, type TallyErrorCode } from "../store/errors.ts";

const CODES: Record<TallyErrorCode, Code> = {
  invalid_argument: Code.InvalidArgument,
  not_found: Code.NotFound,
  unauthenticated: Code.Unauthenticated,
  permission_denied: Code.PermissionDenied,
  resource_exhausted: Code.ResourceExhausted,
  failed_precondition: Code.FailedPrecondition,
  unavailable: Code.Unavailable,
  data_loss: Code.DataLoss,
  internal: Code.Internal,
};

export function toConnectError(error: unknown, log: (message: string) => void = console.error): ConnectError {
  if (error instanceof ConnectError) return error;
  if (error instanceof TallyError) return new ConnectError(error.message, CODES[error.code]);
  log(`[tally] unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  return new ConnectError("internal error; see the server log", Code.Internal);
}

/** Applied to every call, on every protocol and runtime — including errors a response stream throws late. */
export const errorInterceptor: Interceptor = (next) => async (req) => {
  try {
    const res = await next(req);
    if (!res.stream) return res;
    return { ...res, message: translated(res.message) };
  } catch (error) {
    throw toConnectError(error);
  }
};

async function* translated<T>(messages: AsyncIterable<T>): AsyncIterable<T> {
  try {
    yield* messages;
  } catch (error) {
    throw toConnectError(error);
  }
}
