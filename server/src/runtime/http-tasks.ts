// Carries out HTTP system tasks outside the event transaction, then reports
// the outcome as the task's result. Only hosts on the allowlist are called,
// and none until an allowlist is configured: a flow's author must not reach
// the server's own network (admin endpoints on loopback, metadata services).
// What a call may take is bounded: its time (on the server's clock), its
// answer's size, and how many calls the server has in flight at once.
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { NOTE_CHARS, parseJson, quoted, shortened, stringifyJson } from "@baton/json";
import type { Clock } from "../clock.js";
import type { JsonObject, TaskState } from "../decider/model.js";
import type { Logger } from "../logger.js";
import type { Engine } from "./engine.js";
import { explainRefusal, HttpAgents, parseAllowlist } from "./http-allowlist.js";

export interface HttpPolicy {
  /** Host names (or "*"), addresses and CIDRs tasks may call; empty: HTTP tasks are refused. */
  allowedHosts: string[];
  /** The longest a call may take on the server's clock (a task's own readTimeOut may only shorten it). */
  timeoutMs: number;
  /** The largest response body kept; a longer one fails the task. */
  maxResponseBytes: number;
  /** Calls this server makes at once; more wait for a slot. */
  maxInFlight: number;
  /** Calls that may wait for a slot; beyond them a call fails at once, saying so. */
  maxWaiting: number;
}

export const DEFAULT_HTTP_POLICY: Omit<HttpPolicy, "allowedHosts" | "maxResponseBytes"> = { timeoutMs: 30_000, maxInFlight: 64, maxWaiting: 1024 };

export const NO_ALLOWLIST =
  "HTTP tasks are off: no allowlist is configured (set BATON_HTTP_ALLOWED_HOSTS=host,host… or `baton dev --http-allowed-hosts host,host…`)";

type Outcome = { status: "COMPLETED" | "FAILED"; output: JsonObject; reason: string };

class TooBusy extends Error {}

/** At most `max` holders at once, at most `waiting` more in line (FIFO). */
class Slots {
  private inUse = 0;
  private readonly line: (() => void)[] = [];
  constructor(
    private readonly max: number,
    private readonly waiting: number,
  ) {}
  async take(): Promise<() => void> {
    if (this.inUse >= this.max) {
      if (this.line.length >= this.waiting) throw new TooBusy();
      await new Promise<void>((resolve) => this.line.push(resolve));
    } else this.inUse++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.line.shift();
      if (next) next();
      else this.inUse--;
    };
  }
}

/** The body as text, or undefined when it is longer than `limit` bytes (the rest is not read). */
async function readCapped(response: IncomingMessage, limit: number): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response as AsyncIterable<Buffer>) {
    size += chunk.byteLength;
    if (size > limit) {
      response.destroy();
      return undefined;
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

export class HttpTasks {
  private readonly agents: HttpAgents;
  private readonly slots: Slots;

  constructor(
    private readonly engine: Pick<Engine, "handle">,
    private readonly policy: HttpPolicy,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {
    this.agents = new HttpAgents(parseAllowlist(policy.allowedHosts));
    this.slots = new Slots(policy.maxInFlight, policy.maxWaiting);
  }

  run(task: TaskState): void {
    void this.call(task)
      .then(
        (result) =>
          this.engine.handle(task.runId, {
            kind: "taskResult",
            taskId: task.id,
            leaseToken: task.leaseToken,
            workerId: "baton-http",
            callbackAfterSeconds: 0,
            ...result,
          }),
        (error: unknown) => this.log.warn({ err: error, taskId: task.id }, "HTTP task could not report"),
      )
      .catch((error: unknown) => this.log.debug({ err: error, taskId: task.id }, "HTTP task result not applied"));
  }

  close(): void {
    this.agents.destroy();
  }

  private async call(task: TaskState): Promise<Outcome> {
    const request = (task.input["http_request"] ?? task.input) as JsonObject;
    const uri = String(request["uri"] ?? request["url"] ?? "");
    let url: URL;
    try {
      url = new URL(uri);
    } catch {
      return { status: "FAILED", output: {}, reason: `invalid uri ${quoted(uri)}` };
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") return { status: "FAILED", output: {}, reason: `uri ${quoted(uri)} is not http or https` };
    if (this.policy.allowedHosts.length === 0) return { status: "FAILED", output: {}, reason: NO_ALLOWLIST };
    const agent = this.agents.agentFor(url);
    if (!agent) return { status: "FAILED", output: {}, reason: `host ${shortened(url.hostname)} is not on the HTTP allowlist (BATON_HTTP_ALLOWED_HOSTS)` };
    let release: () => void;
    try {
      release = await this.slots.take();
    } catch (error) {
      if (!(error instanceof TooBusy)) throw error;
      return {
        status: "FAILED",
        output: {},
        reason: `too many HTTP calls in flight (${this.policy.maxInFlight}, BATON_HTTP_MAX_IN_FLIGHT) and ${this.policy.maxWaiting} waiting: try again later (a task definition's retryCount and retryDelaySeconds retry it)`,
      };
    }
    try {
      return await this.send(url, agent, request);
    } finally {
      release();
    }
  }

  private async send(url: URL, agent: NonNullable<ReturnType<HttpAgents["agentFor"]>>, request: JsonObject): Promise<Outcome> {
    const method = String(request["method"] ?? "GET").toUpperCase();
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries((request["headers"] ?? {}) as JsonObject)) headers[k] = String(v);
    const body = request["body"];
    const text = body !== undefined && method !== "GET" && method !== "HEAD" ? (typeof body === "string" ? body : stringifyJson(body)) : undefined;
    if (body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === "content-type"))
      headers["Content-Type"] = String(request["contentType"] ?? "application/json");
    const requested = Number(request["readTimeOut"] ?? request["connectionTimeOut"] ?? this.policy.timeoutMs) || this.policy.timeoutMs;
    const timeoutMs = Math.min(requested, this.policy.timeoutMs);
    // The limit runs on the server's clock (a test moves it) and on real time, whichever passes first.
    const abort = new AbortController();
    const deadline = this.clock.now() + timeoutMs;
    const timedOut = () => abort.abort(new Error(`no answer within ${timeoutMs / 1000} s (the server's limit; BATON_HTTP_TIMEOUT_MS)`));
    const timer = setTimeout(timedOut, timeoutMs);
    const stopWatching = this.clock.onAdvance(() => {
      if (this.clock.now() >= deadline) timedOut();
    });
    try {
      const response = await new Promise<IncomingMessage>((resolve, reject) => {
        const send = url.protocol === "https:" ? httpsRequest : httpRequest;
        // No redirects are followed: a redirect's target was never checked against the allowlist.
        const req = send(url, { method, headers, agent, signal: abort.signal }, resolve);
        req.on("error", reject);
        req.end(text);
      });
      const answer = await readCapped(response, this.policy.maxResponseBytes);
      if (answer === undefined) return { status: "FAILED", output: {}, reason: `the response body is over the ${this.policy.maxResponseBytes}-byte limit` };
      let parsed: unknown = answer;
      try {
        parsed = answer ? parseJson(answer) : null;
      } catch {
        // not JSON: keep the text
      }
      const status = response.statusCode ?? 0;
      const reasonPhrase = response.statusMessage ?? "";
      const output: JsonObject = {
        response: { statusCode: status, reasonPhrase, headers: flatHeaders(response), body: parsed as JsonObject },
      };
      return status >= 200 && status < 300
        ? { status: "COMPLETED", output, reason: "" }
        : { status: "FAILED", output, reason: `HTTP ${status} ${reasonPhrase}` };
    } catch (error) {
      const cause = abort.signal.aborted ? (abort.signal.reason as Error) : (error as Error);
      const refusal = explainRefusal(url.hostname, cause);
      return { status: "FAILED", output: {}, reason: refusal ?? `HTTP call failed: ${shortened(cause.message, NOTE_CHARS)}` };
    } finally {
      clearTimeout(timer);
      stopWatching();
    }
  }
}

/** Header names to their value (repeated headers joined by ", ", as fetch did). */
function flatHeaders(response: IncomingMessage): JsonObject {
  const out: JsonObject = {};
  for (const [name, value] of Object.entries(response.headers)) if (value !== undefined) out[name] = Array.isArray(value) ? value.join(", ") : value;
  return out;
}
