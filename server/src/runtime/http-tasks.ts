// Carries out HTTP system tasks outside the event transaction, then reports
// the outcome as the task's result. Only hosts on the allowlist are called,
// and none until an allowlist is configured: a flow's author must not reach
// the server's own network (admin endpoints on loopback, metadata services).
import { parseJson, stringifyJson } from "@baton/json";
import type { JsonObject, TaskState } from "../engine/model.js";
import type { Logger } from "../logger.js";
import type { Engine } from "./engine.js";

export interface HttpPolicy {
  /** Host names (or "*") tasks may call; empty: HTTP tasks are refused. */
  allowedHosts: string[];
  /** The longest a call may take (a task's own readTimeOut may only shorten it). */
  timeoutMs: number;
  /** The largest response body kept; a longer one fails the task. */
  maxResponseBytes: number;
}

export const NO_ALLOWLIST =
  "HTTP tasks are off: no allowlist is configured (set BATON_HTTP_ALLOWED_HOSTS=host,host… or `baton dev --http-allowed-hosts host,host…`)";

/** The body as text, or undefined when it is longer than `limit` bytes (the rest is not read). */
async function readCapped(response: Response, limit: number): Promise<string | undefined> {
  if (!response.body) return "";
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      return undefined;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString("utf8");
}

export class HttpTasks {
  constructor(
    private readonly engine: Pick<Engine, "handle">,
    private readonly policy: HttpPolicy,
    private readonly log: Logger,
  ) {}

  run(task: TaskState): void {
    void this.call(task).then(
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
    ).catch((error: unknown) => this.log.debug({ err: error, taskId: task.id }, "HTTP task result not applied"));
  }

  private async call(task: TaskState): Promise<{ status: "COMPLETED" | "FAILED"; output: JsonObject; reason: string }> {
    const request = (task.input["http_request"] ?? task.input) as JsonObject;
    const uri = String(request["uri"] ?? request["url"] ?? "");
    let url: URL;
    try {
      url = new URL(uri);
    } catch {
      return { status: "FAILED", output: {}, reason: `invalid uri ${JSON.stringify(uri)}` };
    }
    if (this.policy.allowedHosts.length === 0) return { status: "FAILED", output: {}, reason: NO_ALLOWLIST };
    const host = url.hostname;
    const allowed = this.policy.allowedHosts.includes("*") || this.policy.allowedHosts.includes(host);
    if (!allowed) return { status: "FAILED", output: {}, reason: `host ${host} is not on the HTTP allowlist (BATON_HTTP_ALLOWED_HOSTS)` };
    const method = String(request["method"] ?? "GET").toUpperCase();
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries((request["headers"] ?? {}) as JsonObject)) headers[k] = String(v);
    const body = request["body"];
    const requested = Number(request["readTimeOut"] ?? request["connectionTimeOut"] ?? this.policy.timeoutMs) || this.policy.timeoutMs;
    const timeoutMs = Math.min(requested, this.policy.timeoutMs);
    try {
      const response = await fetch(url, {
        method,
        headers: body !== undefined && !headers["Content-Type"] ? { ...headers, "Content-Type": String(request["contentType"] ?? "application/json") } : headers,
        ...(body !== undefined && method !== "GET" && method !== "HEAD" ? { body: typeof body === "string" ? body : stringifyJson(body) } : {}),
        signal: AbortSignal.timeout(timeoutMs),
        redirect: "manual",
      });
      const text = await readCapped(response, this.policy.maxResponseBytes);
      if (text === undefined) return { status: "FAILED", output: {}, reason: `the response body is over the ${this.policy.maxResponseBytes}-byte limit` };
      let parsed: unknown = text;
      try {
        parsed = text ? parseJson(text) : null;
      } catch {
        // not JSON: keep the text
      }
      const output: JsonObject = {
        response: { statusCode: response.status, reasonPhrase: response.statusText, headers: Object.fromEntries(response.headers), body: parsed as JsonObject },
      };
      return response.ok
        ? { status: "COMPLETED", output, reason: "" }
        : { status: "FAILED", output, reason: `HTTP ${response.status} ${response.statusText}` };
    } catch (error) {
      return { status: "FAILED", output: {}, reason: `HTTP call failed: ${(error as Error).message}` };
    }
  }
}
