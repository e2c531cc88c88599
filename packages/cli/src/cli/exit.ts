// Exit codes and the errors that carry them. Every command ends through here,
// so the codes in the README are the only ones `baton` returns.
import { grpc } from "@baton/protocol";

export const Exit = {
  /** Done. */
  OK: 0,
  /** The server or the runtime failed (unreachable, refused, a run that did not complete). */
  ERROR: 1,
  /** The command line is wrong: unknown flag, missing argument, unreadable file. */
  USAGE: 2,
  /** `publish --exit-code`: something would change (or changed). */
  CHANGES: 3,
  /** A definition or flow did not pass validation (nothing was sent). */
  VALIDATION: 4,
} as const;

export type ExitCode = (typeof Exit)[keyof typeof Exit];

/** An error with the exit code it means and, optionally, lines to print after it. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode = Exit.ERROR,
    readonly details: string[] = [],
  ) {
    super(message);
    this.name = "CliError";
  }
}

export const usage = (message: string): CliError => new CliError(message, Exit.USAGE);

interface ServiceErrorLike {
  code: number;
  details?: string;
  message: string;
}

export function isServiceError(error: unknown): error is ServiceErrorLike {
  return error instanceof Error && typeof (error as { code?: unknown }).code === "number" && "details" in error;
}

export function grpcCode(error: unknown): number | undefined {
  return isServiceError(error) ? error.code : undefined;
}

/** A server error in words a user can act on. */
export function describeError(error: unknown, address: string): CliError {
  if (error instanceof CliError) return error;
  if (!isServiceError(error)) {
    return new CliError(error instanceof Error ? error.message : String(error));
  }
  const details = error.details || error.message;
  switch (error.code) {
    case grpc.status.NOT_FOUND:
      return new CliError(`not found: ${details}`);
    case grpc.status.INVALID_ARGUMENT:
      return new CliError(`the server refused the request: ${details}`);
    case grpc.status.FAILED_PRECONDITION:
      return new CliError(`not possible now: ${details}`);
    case grpc.status.ALREADY_EXISTS:
      return new CliError(`already exists: ${details}`);
    case grpc.status.UNAVAILABLE: {
      const why = /ECONNREFUSED/.test(details) ? "connection refused" : details.replace(/\.?\s*Resolution note:.*$/s, "");
      return new CliError(`cannot reach a Baton server at ${address} (${why}); start one with \`baton dev\` or set BATON_ADDRESS / --address`);
    }
    case grpc.status.DEADLINE_EXCEEDED:
      return new CliError(`the server at ${address} did not answer in time: ${details}`);
    case grpc.status.UNAUTHENTICATED:
      return new CliError(`not authenticated: ${details} (set BATON_TOKEN or --token)`);
    case grpc.status.PERMISSION_DENIED:
      return new CliError(`permission denied: ${details}`);
    case grpc.status.RESOURCE_EXHAUSTED:
      return new CliError(`too large or too many: ${details}`);
    case grpc.status.UNIMPLEMENTED:
      return new CliError(`the server at ${address} does not support this call (is it an older Baton?): ${details}`);
    default:
      return new CliError(`server error (${grpc.status[error.code] ?? error.code}): ${details}`);
  }
}
