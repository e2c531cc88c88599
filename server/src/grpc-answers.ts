// The gRPC port's answers under the unsent-answer budget (unsent-answers.ts).
// A grpc-js server interceptor sees each message a call sends, and the
// callback grpc-js calls once its HTTP/2 stream has handed the bytes to the
// socket: a client that does not read (or grants no HTTP/2 window) keeps that
// callback from coming. The message is serialized here, before it is sent, to
// know its size; the service definitions send a Buffer as it is
// (`sendsEncoded`), so it is serialized once, as before.
import http2 from "node:http2";
import * as grpc from "@grpc/grpc-js";
import { ForwardingCall, type Listener, type Next } from "./grpc-forwarding-call.js";
import type { Logger } from "./logger.js";
import type { AnswerCall, Held, UnsentAnswers } from "./unsent-answers.js";

/** `definition` with serializers that send a Buffer (an answer this module serialized) as it is. */
export function sendsEncoded<D extends grpc.ServiceDefinition>(definition: D): D {
  const result: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const [name, method] of Object.entries(definition)) {
    const serialize = method.responseSerialize;
    result[name] = { ...method, responseSerialize: (value: unknown) => (Buffer.isBuffer(value) ? value : serialize(value)) };
  }
  return result as D;
}

/** The interceptor that puts every call's answers under `answers`. Serve only definitions passed through `sendsEncoded`. */
export function answerBudgetInterceptor(answers: UnsentAnswers, log: Pick<Logger, "warn">): grpc.ServerInterceptor {
  let warned = false;
  const cannotEnd = () => {
    if (warned) return;
    warned = true;
    log.warn("cannot end a gRPC call whose answer stays unread (grpc-js's internals changed): its bytes stay held until its connection closes");
  };
  // grpc-js uses what an interceptor returns through ServerInterceptingCallInterface alone.
  return (method, next) => new BudgetedCall(method, next, answers, cannotEnd) as unknown as grpc.ServerInterceptingCall;
}

class BudgetedCall extends ForwardingCall implements AnswerCall {
  readonly connection: string;
  private ended = false;
  private readonly held = new Set<Held>();

  constructor(
    private readonly method: grpc.ServerMethodDefinition<unknown, unknown>,
    next: Next,
    private readonly answers: UnsentAnswers,
    private readonly cannotEnd: () => void,
  ) {
    super(next);
    this.connection = next.getPeer();
  }

  override start(listener: Listener): void {
    this.next.start({
      onReceiveMetadata: (metadata) => listener.onReceiveMetadata(metadata),
      onReceiveMessage: (message) => listener.onReceiveMessage(message),
      onReceiveHalfClose: () => listener.onReceiveHalfClose(),
      // grpc-js calls this when the call ends, however it ends (its stream closed).
      onCancel: () => {
        this.finish();
        listener.onCancel();
      },
    });
  }

  override sendMessage(message: unknown, callback: () => void): void {
    if (this.ended) return;
    let bytes: Buffer;
    try {
      bytes = this.method.responseSerialize(message);
    } catch {
      this.next.sendStatus({ code: grpc.status.INTERNAL, details: "Error serializing response", metadata: null });
      return;
    }
    // A stream's messages do not wait: its back-pressure (call.write's answer) already holds its writer back.
    if (this.method.responseStream) {
      this.write(this.answers.count(this, bytes.length), bytes, callback);
      return;
    }
    const taken = this.answers.take(this, bytes.length);
    if (!(taken instanceof Promise)) {
      this.write(taken, bytes, callback);
      return;
    }
    taken.then(
      (held) => (this.ended ? held.release() : this.write(held, bytes, callback)),
      (error: Error) => {
        if (!this.ended) this.next.sendStatus({ code: grpc.status.RESOURCE_EXHAUSTED, details: error.message, metadata: null });
      },
    );
  }

  /** The answer stayed unsent too long: the stream is reset, which drops its bytes (the client reads RESOURCE_EXHAUSTED). */
  end(): void {
    // grpc-js's call keeps its stream as `stream`; the request budget's call beneath this one passes it on.
    const stream = (this.next as unknown as { stream?: http2.ServerHttp2Stream }).stream;
    if (!stream || typeof stream.close !== "function") {
      this.cannotEnd();
      return;
    }
    if (!stream.destroyed) stream.close(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
  }

  gone(): boolean {
    return this.ended;
  }

  private write(held: Held, bytes: Buffer, callback: () => void): void {
    this.held.add(held);
    this.next.sendMessage(bytes, () => {
      held.sent();
      this.held.delete(held);
      callback();
    });
  }

  private finish(): void {
    this.ended = true;
    for (const held of this.held) held.release();
    this.held.clear();
  }
}
