// The gRPC port's requests under the request-bytes budget (request-bytes.ts).
// grpc-js gathers each message whole, from data events of the call's HTTP/2
// stream, before anything of ours sees it: a client sending 1 MB less one byte
// on each of 300 streams made the server hold 284 MB. So a message takes room
// as soon as its length prefix (the first five bytes of a gRPC message)
// arrives, read from the stream ahead of grpc-js's own reader; with no room the
// call is refused RESOURCE_EXHAUSTED at once, before its body is read, decoded
// or handled. A unary call's message keeps its room until the call ends (its
// decoded message and parsed payload live that long); a stream's message until
// it is handed on, and a stream's small messages (Dispatch's credits) are held
// to their connection's share alone. A message whose bytes stop coming is ended
// by the budget's deadline (request-bytes.ts). The stream is grpc-js's private field of its call
// (not public API): if it is missing, this warns once and requests go uncounted.
// A large unary message comes from grpc-js undecoded (EncodedRequest) and is
// decoded here in a turn of the event loop of its own, one at a time: grpc-js
// decoded it in the turn that completed it, and four publishes of 4 MiB whose
// last bytes arrived together were decoded in one turn.
import type http2 from "node:http2";
import * as grpc from "@grpc/grpc-js";
import { EncodedRequest } from "@baton/protocol";
import { AuthError } from "./auth/authenticator.js";
import { ForwardingCall, type Listener, type Next } from "./grpc-forwarding-call.js";
import type { Logger } from "./logger.js";
import { SMALL_REQUEST_BYTES, type RequestBytes, type RequestCall, type Room } from "./request-bytes.js";

/**
 * The interceptor that puts every call's request messages under `requests`.
 * It must come first in the server's list (next to grpc-js's own call, whose
 * stream it reads); it passes that stream on as `stream` for the interceptors
 * after it. `maxMessageBytes` is the server's receive limit: what a
 * compressed message is counted as (it may inflate to that).
 */
export function requestBudgetInterceptor(
  requests: RequestBytes,
  maxMessageBytes: number,
  log: Pick<Logger, "warn">,
  authenticate?: KeyCheck,
): grpc.ServerInterceptor {
  let warned = false;
  const uncounted = () => {
    if (warned) return;
    warned = true;
    log.warn("cannot count gRPC request bytes (grpc-js's internals changed): requests on the gRPC port are not held to BATON_REQUEST_BYTES");
  };
  // grpc-js uses what an interceptor returns through ServerInterceptingCallInterface alone.
  return (method, next) => new CountedCall(method, next, requests, maxMessageBytes, uncounted, authenticate) as unknown as grpc.ServerInterceptingCall;
}

/**
 * A call's key check, as the guard makes it (the same answer for the same metadata): a unary call whose key is
 * refused is ended as soon as the check answers, while its message may still be coming, so a caller without a
 * valid key holds no room with unfinished messages. The guard still refuses a call whose message came first.
 */
export type KeyCheck = (metadata: grpc.Metadata) => Promise<unknown>;

let lastDecode: Promise<void> = Promise.resolve();

/** Runs `decode` in a turn of the event loop after the one before it ran in: the serving thread answers other calls between two large decodes. */
function inTurnOfItsOwn(decode: () => void): Promise<void> {
  const turn = lastDecode.then(() => new Promise<void>((resolve) => setImmediate(resolve))).then(decode);
  lastDecode = turn.catch(() => {});
  return lastDecode;
}

/** Finds the length prefixes of the gRPC messages in a call's request bytes, chunk by chunk. */
class MessagePrefixes {
  private readonly prefix = Buffer.alloc(5);
  private prefixHave = 0;
  private bodyLeft = 0;

  /** Calls `found` for each message whose prefix completes in `chunk`, `whole` for each that then completes. */
  read(chunk: Buffer, found: (compressed: boolean, length: number) => void, whole: () => void): void {
    for (let at = 0; at < chunk.length;) {
      if (this.bodyLeft > 0) {
        const skipped = Math.min(this.bodyLeft, chunk.length - at);
        this.bodyLeft -= skipped;
        at += skipped;
        if (this.bodyLeft === 0) whole();
        continue;
      }
      const copied = chunk.copy(this.prefix, this.prefixHave, at, at + 5 - this.prefixHave);
      this.prefixHave += copied;
      at += copied;
      if (this.prefixHave < 5) continue;
      this.prefixHave = 0;
      this.bodyLeft = this.prefix.readUInt32BE(1);
      found(this.prefix[0] === 1, this.bodyLeft);
    }
  }
}

class CountedCall extends ForwardingCall implements RequestCall {
  /** The call's HTTP/2 stream, for the interceptors after this one. */
  readonly stream: http2.ServerHttp2Stream | undefined;
  /** Its HTTP/2 session. */
  readonly connection: object;
  /** Room taken by messages not yet handed on (a stream's) or by the call (unary), in arrival order. */
  private readonly held: Room[] = [];
  private ended = false;
  /** Whether the call's message was handed on (its handler's guard then answers a refused key). */
  private handedOn = false;
  private stopReading = () => {};
  /** A large message being decoded in a turn of its own: the half-close waits for it. */
  private decoding: Promise<void> | undefined;

  constructor(
    private readonly method: grpc.ServerMethodDefinition<unknown, unknown>,
    next: Next,
    private readonly requests: RequestBytes,
    private readonly maxMessageBytes: number,
    uncounted: () => void,
    private readonly authenticate: KeyCheck | undefined,
  ) {
    super(next);
    const stream = (next as unknown as { stream?: http2.ServerHttp2Stream }).stream;
    this.stream = stream;
    this.connection = stream?.session ?? this;
    if (!stream || typeof stream.prependListener !== "function") {
      uncounted();
      return;
    }
    const prefixes = new MessagePrefixes();
    // Ahead of grpc-js's reader: a refusal here ends the call before grpc-js takes in the bytes that carried the prefix.
    const onData = (chunk: Buffer) =>
      prefixes.read(
        chunk,
        (compressed, length) => this.begun(compressed ? this.maxMessageBytes : length),
        () => this.held.at(-1)?.arrived(),
      );
    stream.prependListener("data", onData);
    this.stopReading = () => stream.off("data", onData);
  }

  override start(listener: Listener): void {
    this.next.start({
      onReceiveMetadata: (metadata) => {
        if (this.authenticate && !this.method.requestStream) {
          this.authenticate(metadata).catch((error: unknown) => {
            if (error instanceof AuthError && !this.handedOn) this.refuse(error.code, error.message);
          });
        }
        listener.onReceiveMetadata(metadata);
      },
      onReceiveMessage: (message) => {
        this.handedOn = true;
        // A stream's message is the handler's from here; a unary call's stays in hand until the call ends.
        if (this.method.requestStream) this.held.shift()?.release();
        if (!(message instanceof EncodedRequest)) return listener.onReceiveMessage(message);
        this.decoding = inTurnOfItsOwn(() => {
          if (!this.ended) listener.onReceiveMessage(message.decode());
        });
      },
      onReceiveHalfClose: () => {
        if (!this.decoding) return listener.onReceiveHalfClose();
        void this.decoding.then(() => {
          if (!this.ended) listener.onReceiveHalfClose();
        });
      },
      // grpc-js calls this when the call ends, however it ends.
      onCancel: () => {
        this.finish();
        listener.onCancel();
      },
    });
  }

  /** The budget ends the call: its message stopped arriving. */
  end(message: string): void {
    this.refuse(grpc.status.RESOURCE_EXHAUSTED, message);
  }

  /** grpc-js pauses a stream after each whole message until its handler asks for the next: the bytes it holds back are not the caller's delay. */
  reading(): boolean {
    return this.stream?.isPaused() !== true;
  }

  /** A message's prefix arrived: it takes room, or the call is refused before its body is read. */
  private begun(declared: number): void {
    if (this.ended) return;
    // A larger one is refused by grpc-js itself, from the same prefix.
    const bytes = Math.min(declared, this.maxMessageBytes);
    const room = this.requests.take(bytes, "grpc", this, this.method.requestStream && bytes < SMALL_REQUEST_BYTES);
    if (room) {
      this.held.push(room);
      return;
    }
    this.refuse(grpc.status.RESOURCE_EXHAUSTED, this.requests.refusal(bytes));
  }

  /** Ends the call with `code` before its message is read on. */
  private refuse(code: grpc.status, details: string): void {
    if (this.ended) return;
    this.finish();
    this.next.sendStatus({ code, details, metadata: null });
  }

  private finish(): void {
    this.ended = true;
    this.stopReading();
    for (const room of this.held) room.release();
    this.held.length = 0;
  }
}
