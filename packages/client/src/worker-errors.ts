// What a worker says about trouble it recovers from, when the caller gave no
// onError: one line on stderr naming the server and what to do, said again
// only when the trouble changes or after a quiet minute, not per retry.
import { grpc } from "@baton/protocol";

/** A transport error in words a user can act on. */
export function describeWorkerError(error: unknown, address: string): string {
  const e = error as { code?: number; details?: string; message?: string };
  const details = e.details || e.message || String(error);
  switch (e.code) {
    case grpc.status.UNAVAILABLE: {
      const why = /ECONNREFUSED/.test(details) ? "connection refused" : details.replace(/\.?\s*Resolution note:.*$/s, "");
      return `cannot reach the Baton server at ${address} (${why}); retrying. Start one with \`baton dev\`, or set BATON_ADDRESS (or the address option)`;
    }
    case grpc.status.UNAUTHENTICATED:
      return `the Baton server at ${address} wants an API key (${details}): set BATON_TOKEN (or the token option) to a worker key`;
    case grpc.status.PERMISSION_DENIED:
      return `the Baton server at ${address} refused this worker (${details}): use a key whose role and task types allow it`;
    default:
      // A server that stops (Ctrl-C on `baton dev`, a rolling restart) resets its streams: grpc-js reads that as INTERNAL.
      if (/RST_STREAM|Call ended without gRPC status/.test(details))
        return `the Baton server at ${address} ended the connection (stopped or restarting?); reconnecting`;
      return `Baton server at ${address}: ${details}`;
  }
}

/** The default onError: prints each distinct problem once a minute at most. */
export function stderrReporter(address: string, write: (line: string) => void = (l) => process.stderr.write(l)): (error: unknown) => void {
  let last = "";
  let lastAt = 0;
  return (error) => {
    const message = describeWorkerError(error, address);
    const now = Date.now();
    if (message === last && now - lastAt < 60_000) return;
    last = message;
    lastAt = now;
    write(`baton worker: ${message}\n`);
  };
}
