// The console's HTTP port: the Connect protocol for the browser (the same
// gated services as the gRPC port) and the static bundle, on one origin.
import http from "node:http";
import { createRequire } from "node:module";
import path from "node:path";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { Code, ConnectError, createContextValues } from "@connectrpc/connect";
import { codeToHttpStatus, errorToJson } from "@connectrpc/connect/protocol-connect";
import { nestsDeeperThan, usesMoreKeyNamesThan } from "@baton/json";
import { grpc, slicedJsonEncoder } from "@baton/protocol";
import { AuthError } from "../auth/authenticator.js";
import { BODY_TOO_DEEP, BODY_TOO_MANY_NAMES, MAX_BODY_DEPTH, MAX_JSON_KEY_NAMES } from "../service/json-checks.js";
import { listen } from "../http-listen.js";
import type { Connections } from "../connections.js";
import type { UnsentAnswers } from "../unsent-answers.js";
import { answerUnderBudget } from "./console-answers.js";
import type { Logger } from "../logger.js";
import { declaredBodyBytes, type RequestBytes, type RequestCall } from "../request-bytes.js";
import { connectRoutes, peerKey, toConnectError, type GatedService } from "./connect.js";
import { SECURITY_HEADERS, staticFiles } from "./static-files.js";

export interface ConsoleServerOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  services: GatedService[];
  /** The server's budget of request bytes in hand, shared with the gRPC port: Connect reads each body whole and parses it before a service sees the call. */
  requests: RequestBytes;
  /** Without authentication only loopback names may be used to reach the port (no DNS rebinding). */
  authRequired: boolean;
  /** With keys required: checks a call's key (throws UNAUTHENTICATED), as the services' gate does. */
  authenticate?: (metadata: grpc.Metadata) => Promise<unknown>;
  /** The limits on the port's connections (none: unbounded). */
  connections?: Connections;
  /** The server's budget of answers not yet read by their callers (none: unbounded). */
  answers?: UnsentAnswers;
  log: Logger;
  /** The built bundle (default: @baton/console's dist). */
  bundleDir?: string;
}

export interface ConsoleServer {
  /** http://host:port */
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Where @baton/console's build put the bundle, if the package is installed. */
export function defaultBundleDir(): string | undefined {
  try {
    return path.join(path.dirname(createRequire(import.meta.url).resolve("@baton/console/package.json")), "dist");
  } catch {
    return undefined;
  }
}

const LOOPBACK_NAMES = new Set(["127.0.0.1", "localhost", "[::1]", "::1"]);

function hostName(hostHeader: string): string {
  return hostHeader.startsWith("[") ? hostHeader.slice(0, hostHeader.indexOf("]") + 1) : hostHeader.split(":")[0]!;
}

const utf8 = new TextDecoder();

/** The most a console call's body may be: requests carry JSON definitions and payloads (the gRPC port's own bound applies downstream). */
const READ_MAX_BYTES = 16 * 1024 * 1024;
/** Decodes a JSON request, refusing one nested deeper than a body may be: parsing megabytes of nested lists holds the serving thread for seconds. */
const depthCheckedDecoder = {
  decode(data: Uint8Array): string {
    const text = utf8.decode(data);
    if (nestsDeeperThan(text, MAX_BODY_DEPTH)) throw new ConnectError(BODY_TOO_DEEP, Code.InvalidArgument);
    if (usesMoreKeyNamesThan(text, MAX_JSON_KEY_NAMES)) throw new ConnectError(BODY_TOO_MANY_NAMES, Code.InvalidArgument);
    return text;
  },
};

/** The call's key as the gate reads it. */
function keyOf(req: http.IncomingMessage): grpc.Metadata {
  const metadata = new grpc.Metadata();
  if (req.headers.authorization) metadata.set("authorization", req.headers.authorization);
  return metadata;
}

function callFields(req: http.IncomingMessage) {
  return { method: req.url?.split("?")[0]?.slice(0, 200), peer: `${req.socket.remoteAddress ?? "unknown"}:${req.socket.remotePort ?? 0}` };
}

/** A call whose key was refused, logged as the gRPC port logs one. */
function keyRefusal(req: http.IncomingMessage, error: unknown, log: Logger): ConnectError {
  if (error instanceof AuthError)
    log.info(
      { ...callFields(req), code: "UNAUTHENTICATED", reason: error.reason, ...(error.keyId ? { keyId: error.keyId } : {}) },
      "request not authenticated",
    );
  else log.warn({ ...callFields(req), err: error }, "could not check a console call's key");
  return toConnectError(error as grpc.ServiceError);
}

/** Answers a refused call as Connect would, and closes the connection rather than read the body the caller may still be sending. */
function refuseUnread(res: http.ServerResponse, refusal: ConnectError, headers: Record<string, string> = {}): void {
  const body = JSON.stringify(errorToJson(refusal, undefined));
  res
    .writeHead(codeToHttpStatus(refusal.code), {
      ...headers,
      "content-type": "application/json",
      "content-length": Buffer.byteLength(body),
      connection: "close",
    })
    .end(body);
}

export async function startConsoleServer(options: ConsoleServerOptions): Promise<ConsoleServer> {
  const files = staticFiles(options.bundleDir ?? defaultBundleDir());
  const rpc = connectNodeAdapter({
    routes: connectRoutes(options.services),
    // Only the HTTP/1.1 server below calls this adapter.
    fallback: (req, res) => files(req as http.IncomingMessage, res as http.ServerResponse),
    contextValues: (req) => createContextValues().set(peerKey, `${req.socket.remoteAddress ?? "unknown"}:${req.socket.remotePort ?? 0}`),
    readMaxBytes: READ_MAX_BYTES,
    // A long reply asked for as JSON is written in slices by the handler and handed on as a stand-in this encoder turns
    // into its bytes; a JSON request's depth is read from its text before it is parsed (Connect passes these options on
    // to its JSON serialization; the options' type leaves them out).
    jsonOptions: { textEncoder: slicedJsonEncoder, textDecoder: depthCheckedDecoder } as object,
  });
  /** Takes room for the call's body until its answer is done; false (the call refused unread) when the server holds too much. */
  const admit = (req: http.IncomingMessage, res: http.ServerResponse): boolean => {
    const bytes = declaredBodyBytes(req.headers, READ_MAX_BYTES);
    const call: RequestCall = {
      connection: req.socket,
      reading: () => true,
      // Its body stopped coming while Connect reads it: the connection is closed (Connect answers nothing then).
      end: () => req.socket.destroy(),
    };
    const room = options.requests.take(bytes, "console", call);
    if (!room) {
      options.log.debug({ ...callFields(req), bytes, held: options.requests.heldBytes }, "console call refused: request bytes in hand");
      refuseUnread(res, new ConnectError(options.requests.refusal(bytes), Code.ResourceExhausted), { "retry-after": "5" });
      return false;
    }
    req.once("end", room.arrived);
    res.once("close", room.release);
    return true;
  };
  /** A Connect call, its answer under the budget of unsent answers. */
  const serve = (req: http.IncomingMessage, res: http.ServerResponse) => {
    if (options.answers) answerUnderBudget(req, res, options.answers);
    rpc(req, res);
  };
  const server = http.createServer((req, res) => {
    const host = req.headers.host ?? "";
    // Open (no keys) means loopback only: a page of another site that renames
    // itself to 127.0.0.1 must not reach the services through the browser.
    if (!options.authRequired && !LOOPBACK_NAMES.has(hostName(host)) && hostName(host) !== options.host) {
      res
        .writeHead(421, { ...SECURITY_HEADERS, "content-type": "text/plain" })
        .end(`this console answers to 127.0.0.1 or localhost, not ${host.slice(0, 100)}\n`);
      return;
    }
    // Calls come from the console's own pages; a cross-site form or fetch is refused.
    const origin = req.headers.origin;
    if (req.method === "POST" && origin && origin !== "null" && new URL(origin).host !== host) {
      res.writeHead(403, { ...SECURITY_HEADERS, "content-type": "text/plain" }).end("cross-origin calls are refused\n");
      return;
    }
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value);
    if (options.authenticate && req.url?.startsWith("/baton.")) {
      // The key is checked before the body is read: Connect reads and parses a
      // body whole (up to readMaxBytes) before the services' gate sees the call,
      // and a 10 MB body of nested lists held the serving thread for seconds.
      void options.authenticate(keyOf(req)).then(
        () => admit(req, res) && serve(req, res),
        (error: unknown) => refuseUnread(res, keyRefusal(req, error, options.log)),
      );
      return;
    }
    if (!req.url?.startsWith("/baton.")) return rpc(req, res);
    if (admit(req, res)) serve(req, res);
  });
  server.keepAliveTimeout = 65_000;
  options.connections?.guardHttp(server, "console");
  // Closing ends long polls now rather than when they run out.
  const { address, port, close } = await listen(server, options.host, options.port);
  const url = `http://${address}`;
  options.log.info({ url }, "console listening");
  return { url, port, close };
}
