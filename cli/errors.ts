/**
 * Every failure ends as one readable line on stderr and an exit code: 2 when the command line (or a request
 * file) is wrong and nothing was sent, 1 for everything else. No stack traces: the server's message already
 * names the field, and a trace of the client's internals would only bury it.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { CommanderError } from "commander";

/** A mistake in the command line or a request file, found before anything was sent. Exit code 2. */
export class UsageError extends Error {}

/** A failure the command has already described; `message` is the whole line. Exit code 1. */
export class CliError extends Error {}

/** The innermost `cause` of an error, where Node keeps `ECONNREFUSED` and friends. */
function rootCause(error: unknown): unknown {
  let reason = error;
  for (let i = 0; i < 10 && reason instanceof Error && reason.cause !== undefined; i++) reason = reason.cause;
  return reason;
}

const NETWORK: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset",
  ENOTFOUND: "host not found",
  EAI_AGAIN: "host not found",
  ETIMEDOUT: "timed out",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
};

/** `InvalidArgument` → `invalid argument`, the way the server's docs spell the codes. */
function codeName(code: Code): string {
  return (Code[code] ?? "unknown").replace(/([a-z])([A-Z])/g, "$1 $2").toLowerCase();
}

/** The one line (without the `tally: ` prefix) and the exit code for any error a command throws. */
export function describeError(error: unknown, server: string): { line: string; exitCode: number } {
  if (error instanceof UsageError) return { line: error.message, exitCode: 2 };
  if (error instanceof CliError) return { line: error.message, exitCode: 1 };
  if (error instanceof ConnectError) {
    const cause = rootCause(error) as NodeJS.ErrnoException;
    const network = typeof cause?.code === "string" ? NETWORK[cause.code] : undefined;
    if (network) return { line: `cannot reach ${server} (${network})`, exitCode: 1 };
    let line = `${codeName(error.code)}: ${error.rawMessage}`;
    if (error.code === Code.Unauthenticated) line += " (pass --token or set TALLY_TOKEN)";
    return { line, exitCode: 1 };
  }
  const errno = error as NodeJS.ErrnoException;
  if (errno?.code === "ENOENT" && errno.path) return { line: `no such file: ${errno.path}`, exitCode: 1 };
  return { line: error instanceof Error ? error.message : String(error), exitCode: 1 };
}

/**
 * Commander has already printed its own message for a usage error; this only picks the exit code. `--help`
 * and `--version` exit 0; help shown because the command was incomplete is a usage error.
 */
export function commanderExitCode(error: CommanderError): number {
  return error.exitCode === 0 ? 0 : 2;
}

export { CommanderError };
