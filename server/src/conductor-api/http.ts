// The HTTP listener of Conductor's REST API: routing (find-my-way), body
// reading and validation (body-views.ts: large bodies in the queries pool),
// admission, and Conductor's answers (JSON, text/plain ids, 204 for
// "nothing", its error body for every refusal).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import Router from "find-my-way";
import type { ValidateFunction } from "ajv";
import { mapInSlices, stringifyJson, type RpcError } from "@baton/protocol";
import { listen, type Listening } from "../http-listen.js";
import type { Logger } from "../logger.js";
import type { Principal } from "../auth/policy.js";
import type { Touches } from "../auth/call-check.js";
import type { OpenCalls } from "../auth/open-calls.js";
import type { Admission } from "./admission.js";
import { declaredBodyBytes, type RequestBytes, type RequestCall } from "../request-bytes.js";
import { AnswerRefused, type AnswerCall, type UnsentAnswers } from "../unsent-answers.js";
import type { Connections } from "../connections.js";
import { compileBodySchema, parsedBody, readBodyView, type BodyRead, type BodyViewName } from "./body-views.js";
import { badRequest, errorBody, HttpError, notFound, toHttpError } from "./errors.js";

export type HttpMethod = "GET" | "POST" | "PUT" | "DELETE";

export interface Request {
  params: Record<string, string>;
  query: URLSearchParams;
  /** The parsed (and, when the route has a schema, validated) body; a route with a view: the view. */
  body: unknown;
  /** The body as sent (for routes that take text). */
  text: string;
  principal: Principal;
  /** Aborted when the connection closes before the answer was all sent (the client gave up, e.g. on a long poll). */
  signal: AbortSignal;
}

/**
 * What a handler answers: JSON (a value, or text already written, in pieces
 * sent in slices so a large answer does not hold the event loop), text/plain,
 * or nothing (200 with no body, or 204).
 */
export type Reply = { json: unknown; status?: number } | { jsonPieces: (string | Buffer)[] } | { text: string } | { status: 200 | 204 } | undefined;

export interface Route {
  method: HttpMethod;
  path: string;
  /** The gRPC method whose rights this endpoint needs (the one policy table). */
  rights: string;
  /** "json" (default for POST/PUT): parse the body as JSON; "text": keep it as text; "none". */
  body?: "json" | "text" | "none";
  /** JSON schema the body must satisfy. */
  schema?: object;
  /**
   * What the handler gets of a JSON body in place of the body (body-views.ts,
   * with its schema): a large one is read in the queries pool, never parsed on
   * the serving thread.
   */
  view?: BodyViewName;
  /** Open to anyone (the health check, the token exchange that authenticates by itself). */
  public?: boolean;
  /** What the request touches, for scoped worker keys. */
  touches?: (request: Omit<Request, "principal">) => Touches;
  handle: (request: Request) => Promise<Reply>;
}

/** Endpoints of Conductor that Baton knows and does not serve: answered 501 with the reason. */
export interface Unserved {
  method: HttpMethod | "*";
  path: string;
  reason: string;
}

export interface HttpApiOptions {
  host: string;
  port: number;
  routes: Route[];
  unserved: Unserved[];
  admission: Admission;
  log: Logger;
  /** Largest body accepted, in bytes. */
  maxBodyBytes: number;
  /** The server's budget of answers not yet read by their callers (none: unbounded). */
  answers?: UnsentAnswers;
  /** The server's budget of request bytes in hand, shared with the other ports (none: unbounded). */
  requests?: RequestBytes;
  /** The limits on the port's connections (none: unbounded). */
  connections?: Connections;
  /** Where a request admitted with a key is registered while it is served, so revoking the key ends it (none: keys off). */
  calls?: OpenCalls;
  /** Where a large body of a route with a view is read (the queries pool); none: on the serving thread. */
  readBody?: (view: BodyViewName, text: string, params: Record<string, string>) => Promise<BodyRead>;
}

/**
 * A body of a route with a view is read in the queries pool from this size
 * on: a smaller one is parsed in well under a millisecond, less than its trip
 * to a pool thread and back.
 */
export const POOLED_BODY_CHARS = 64 * 1024;

export type HttpApi = Listening;

const NOBODY: Principal = { id: "", name: "", role: "reader", taskTypes: [] };

interface Stored {
  route?: Route;
  validate?: ValidateFunction;
  unserved?: Unserved;
}

export async function startHttpApi(options: HttpApiOptions): Promise<HttpApi> {
  const router = Router({ ignoreTrailingSlash: true, ignoreDuplicateSlashes: true, maxParamLength: 1000 });
  for (const route of options.routes) {
    const stored: Stored = { route, ...(route.schema ? { validate: compileBodySchema(route.schema) } : {}) };
    router.on(route.method, route.path, () => {}, stored);
  }
  for (const unserved of options.unserved) {
    const methods: HttpMethod[] = unserved.method === "*" ? ["GET", "POST", "PUT", "DELETE"] : [unserved.method];
    for (const method of methods) if (!router.hasRoute(method, unserved.path)) router.on(method, unserved.path, () => {}, { unserved } satisfies Stored);
  }

  const server: Server = createServer((req, res) => {
    void serve(req, res).catch((error: unknown) => {
      const answer = toHttpError(error);
      // A refusal is the caller's to read, not the operator's: at error level any caller could flood the log.
      if (answer.status >= 500) options.log.error({ err: error, url: req.url }, "REST request failed");
      else options.log.debug({ status: answer.status, url: req.url, reason: answer.message }, "REST request refused");
      if (!res.headersSent) send(res, answer);
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 65_000;

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://localhost");
    const method = (req.method ?? "GET").toUpperCase();
    const found = router.find(method as HttpMethod, url.pathname);
    const stored = found?.store as Stored | undefined;
    if (!found || !stored) {
      req.resume();
      throw notFound(`no endpoint ${method} ${url.pathname}: Baton serves Conductor's REST API under /api (see the README's list of endpoints)`);
    }
    if (stored.unserved) {
      req.resume();
      throw new HttpError(501, `${method} ${url.pathname} is a Conductor endpoint Baton does not serve: ${stored.unserved.reason}`);
    }
    const route = stored.route!;
    const principal = route.public
      ? NOBODY
      : await options.admission.principal(req.headers).catch((error: unknown) => {
          req.resume();
          throw toHttpError(error);
        });
    admit(req, res, options.requests, options.maxBodyBytes);
    const text = await readBody(req, options.maxBodyBytes);
    const params: Record<string, string> = {};
    for (const [key, value] of Object.entries(found.params)) if (value !== undefined) params[key] = value;
    const kind = route.body ?? (method === "POST" || method === "PUT" ? "json" : "none");
    const read =
      kind !== "json"
        ? parsedBody("", stored.validate)
        : !route.view
          ? parsedBody(text, stored.validate)
          : text.length >= POOLED_BODY_CHARS && options.readBody
            ? await options.readBody(route.view, text, params)
            : readBodyView(route.view, text, params);
    if (!read.ok) throw badRequest(read.refusal.message, read.refusal.validationErrors);
    const body = read.body;
    const controller = new AbortController();
    res.on("close", () => {
      if (!res.writableFinished) controller.abort();
    });
    const partial = { params, query: url.searchParams, body, text, signal: controller.signal };
    if (!route.public) await options.admission.check(principal, route.rights, route.touches?.(partial));
    // A long poll or an execute's wait ends when its key is revoked, answered as any call of a revoked key is.
    let revoked: RpcError | undefined;
    const forget =
      options.calls && !route.public
        ? options.calls.open({
            keyId: principal.id,
            streaming: false,
            end: (error) => {
              revoked = error;
              controller.abort();
            },
          })
        : undefined;
    const reply = await route.handle({ ...partial, principal }).then(
      (answered) => {
        forget?.();
        return answered;
      },
      (error: unknown) => {
        forget?.();
        throw revoked ? toHttpError(revoked) : error;
      },
    );
    // Whatever the handler made of its ended wait (none, or an error), the caller is told its key was revoked.
    if (revoked) throw toHttpError(revoked);
    if (res.destroyed) return;
    if (reply === undefined) {
      res.writeHead(200, { "content-length": 0 }).end();
    } else if ("json" in reply) {
      await answer(req, res, reply.status ?? 200, "application/json", [stringifyJson(reply.json)]);
    } else if ("jsonPieces" in reply) {
      const chunks = await mapInSlices(reply.jsonPieces, (piece) => (typeof piece === "string" ? Buffer.from(piece) : piece));
      if (res.destroyed) return;
      await answer(req, res, 200, "application/json", chunks);
    } else if ("text" in reply) {
      await answer(req, res, 200, "text/plain", [reply.text]);
    } else {
      res.writeHead(reply.status, reply.status === 204 ? {} : { "content-length": 0 }).end();
    }
  }

  /**
   * Writes a body once the budget of unsent answers has room for it (a 503
   * with Retry-After when none comes in time); its bytes count until the
   * response has gone out to the socket or its connection closed.
   */
  async function answer(req: IncomingMessage, res: ServerResponse, status: number, type: string, chunks: (string | Buffer)[]): Promise<void> {
    const bytes = chunks.reduce((n, chunk) => n + Buffer.byteLength(chunk), 0);
    if (options.answers) {
      const call: AnswerCall = {
        connection: `rest ${req.socket.remoteAddress ?? ""}:${req.socket.remotePort ?? ""}`,
        end: () => res.destroy(),
        gone: () => res.destroyed,
      };
      let taken = options.answers.take(call, bytes);
      if (taken instanceof Promise) {
        taken = await taken.catch((error: unknown) => {
          throw error instanceof AnswerRefused ? new HttpError(503, error.message, [], true, 5) : error;
        });
      }
      const held = taken;
      if (res.destroyed) return held.release();
      res.once("finish", () => held.sent()).once("close", () => held.release());
    }
    res.writeHead(status, { "content-type": type, "content-length": bytes });
    for (const chunk of chunks.slice(0, -1)) res.write(chunk);
    res.end(chunks.at(-1));
  }

  options.connections?.guardHttp(server, "rest");
  return listen(server, options.host, options.port);
}

function send(res: ServerResponse, error: HttpError): void {
  const payload = stringifyJson(errorBody(error));
  res
    .writeHead(error.status, {
      "content-type": "application/json",
      "content-length": Buffer.byteLength(payload),
      ...(error.retryAfterSeconds !== undefined ? { "retry-after": String(error.retryAfterSeconds) } : {}),
    })
    .end(payload);
}

/** Takes room for the body until the answer is done; with none, refuses the call unread (429) and closes its connection. */
function admit(req: IncomingMessage, res: ServerResponse, requests: RequestBytes | undefined, maxBodyBytes: number): void {
  if (!requests) return;
  const bytes = declaredBodyBytes(req.headers, maxBodyBytes);
  const call: RequestCall = {
    connection: req.socket,
    reading: () => true,
    // Its body stopped coming: answered at once, and the connection closed rather than read further.
    end: (message) => {
      if (res.headersSent) return void res.destroy();
      res.setHeader("connection", "close");
      send(res, new HttpError(408, message));
    },
  };
  const room = requests.take(bytes, "rest", call);
  if (!room) {
    res.setHeader("connection", "close");
    throw new HttpError(429, requests.refusal(bytes), [], true, 5);
  }
  req.once("end", room.arrived);
  res.once("close", room.release);
}

function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new HttpError(413, `the request body is over the ${limit}-byte limit`));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}
