// The console port's Connect answers under the unsent-answer budget
// (unsent-answers.ts), as the gRPC and REST ports' are: a caller that stops
// reading made the server hold every answer it asked for. connect-node
// writes an answer through the response's writeHead, write and end; here
// the head waits with the body until the body has room, a unary answer
// with no room in time is answered resource_exhausted instead, and the
// bytes count until the socket took them (write's callback) or the
// response closed. A stream's messages are counted without waiting, as on
// the gRPC port.
import type http from "node:http";
import { Code, ConnectError } from "@connectrpc/connect";
import { codeToHttpStatus, errorToJson } from "@connectrpc/connect/protocol-connect";
import { AnswerRefused, type AnswerCall, type Held, type UnsentAnswers } from "../unsent-answers.js";

type Callback = (error?: Error | null) => void;

/** Puts what connect-node writes to `res` under `answers`. Call it before handing the request to Connect. */
export function answerUnderBudget(req: http.IncomingMessage, res: http.ServerResponse, answers: UnsentAnswers): void {
  const call: AnswerCall = {
    connection: `console ${req.socket.remoteAddress ?? ""}:${req.socket.remotePort ?? ""}`,
    end: () => res.destroy(),
    gone: () => res.destroyed,
  };
  const writeHead = res.writeHead.bind(res) as (...args: unknown[]) => http.ServerResponse;
  const write = res.write.bind(res) as (chunk: unknown, encoding: BufferEncoding, callback: Callback) => boolean;
  const end = res.end.bind(res) as (...args: unknown[]) => http.ServerResponse;
  let head: unknown[] | undefined;
  /** The body's room being waited for: the end waits for it too. */
  let waiting: Promise<void> | undefined;
  let refused = false;
  const flushHead = () => {
    if (head && !res.headersSent) writeHead(...head);
    head = undefined;
  };
  const send = (held: Held, chunk: unknown, encoding: BufferEncoding, callback?: Callback) => {
    res.once("close", () => held.release());
    flushHead();
    return write(chunk, encoding, (error) => {
      if (error) held.release();
      else held.sent();
      callback?.(error);
    });
  };
  const refuse = (error: AnswerRefused) => {
    refused = true;
    const body = JSON.stringify(errorToJson(new ConnectError(error.message, Code.ResourceExhausted), undefined));
    head = undefined;
    writeHead(codeToHttpStatus(Code.ResourceExhausted), { "content-type": "application/json", "content-length": Buffer.byteLength(body), "retry-after": "5" });
    end(body);
  };

  res.writeHead = ((...args: unknown[]) => {
    head = args;
    return res;
  }) as typeof res.writeHead;
  res.write = ((chunk: unknown, encodingOrCallback?: BufferEncoding | Callback, maybeCallback?: Callback) => {
    const encoding = typeof encodingOrCallback === "string" ? encodingOrCallback : "utf8";
    const callback = typeof encodingOrCallback === "function" ? encodingOrCallback : maybeCallback;
    if (refused || res.destroyed) return false;
    const bytes = typeof chunk === "string" ? Buffer.byteLength(chunk, encoding) : (chunk as Uint8Array).byteLength;
    const type = String(res.getHeader("content-type") ?? headerOf(head, "content-type") ?? "");
    // A stream's messages (application/connect+json or +proto) do not wait: its writer waits for each write already.
    if (type.startsWith("application/connect+")) return send(answers.count(call, bytes), chunk, encoding, callback);
    const taken = answers.take(call, bytes);
    if (!(taken instanceof Promise)) return send(taken, chunk, encoding, callback);
    waiting = taken.then(
      (held) => {
        waiting = undefined;
        if (res.destroyed) held.release();
        else send(held, chunk, encoding, callback);
      },
      (error: unknown) => {
        waiting = undefined;
        if (error instanceof AnswerRefused && !res.destroyed) refuse(error);
        else res.destroy();
        callback?.();
      },
    );
    // Connect goes on to end(); that waits for this write.
    return true;
  }) as typeof res.write;
  res.end = ((...args: unknown[]) => {
    const finish = () => {
      if (refused) return;
      flushHead();
      end(...args);
    };
    if (waiting) void waiting.then(finish);
    else finish();
    return res;
  }) as typeof res.end;
}

/** A header from writeHead's arguments (status, [message], headers). */
function headerOf(head: unknown[] | undefined, name: string): unknown {
  const headers = head?.find((a) => typeof a === "object" && a !== null) as Record<string, unknown> | undefined;
  if (!headers) return undefined;
  const key = Object.keys(headers).find((k) => k.toLowerCase() === name);
  return key ? headers[key] : undefined;
}
