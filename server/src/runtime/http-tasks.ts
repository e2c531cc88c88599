// Carries out HTTP system tasks outside the event transaction, then reports
// the outcome as the task's result. Only hosts on the allowlist are called.
import type { JsonObject, TaskState } from "../engine/model.js";
import type { Logger } from "../logger.js";
import type { Engine } from "./engine.js";

export interface HttpPolicy {
  /** Host names (or "*") tasks may call. Loopback only by default. */
  allowedHosts: string[];
  timeoutMs: number;
}

export const LOOPBACK_HOSTS = ["localhost", "127.0.0.1", "::1", "[::1]"];

export class HttpTasks {
  constructor(
    private readonly engine: Engine,
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
    const host = url.hostname;
    const allowed = this.policy.allowedHosts.includes("*") || this.policy.allowedHosts.includes(host);
    if (!allowed) return { status: "FAILED", output: {}, reason: `host ${host} is not on the HTTP allowlist (BATON_HTTP_ALLOWED_HOSTS)` };
    const method = String(request["method"] ?? "GET").toUpperCase();
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries((request["headers"] ?? {}) as JsonObject)) headers[k] = String(v);
    const body = request["body"];
    const timeoutMs = Number(request["readTimeOut"] ?? request["connectionTimeOut"] ?? this.policy.timeoutMs) || this.policy.timeoutMs;
    try {
      const response = await fetch(url, {
        method,
        headers: body !== undefined && !headers["Content-Type"] ? { ...headers, "Content-Type": String(request["contentType"] ?? "application/json") } : headers,
        ...(body !== undefined && method !== "GET" && method !== "HEAD" ? { body: typeof body === "string" ? body : JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(timeoutMs),
        redirect: "manual",
      });
      const text = await response.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : null;
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
