// Replicas tell each other what changed through PostgreSQL's LISTEN/NOTIFY:
// every channel, what its payload means, the SQL that sends it and the
// connection that listens, in this one module. A notification is sent inside
// the writing statement or transaction, so it is delivered only at commit.
import pg from "pg";
import type { Logger } from "../logger.js";
import type { Queryable } from "./db.js";
import type { PrimaryLocator } from "./hosts.js";

/** Every channel, by what it says. */
export const CHANNELS = {
  /** Worker tasks became ready; payload: their task types, one a line. */
  tasksReady: "baton_tasks",
  /** A run ended; payload: its id. */
  runEnded: "baton_runs",
  /** Task definitions changed; no payload. */
  taskDefsChanged: "baton_taskdefs",
  /** A workflow name got a new version; payload: the name. */
  workflowDefsChanged: "baton_workflow_defs",
  /** An API key was created or revoked; payload: its id. */
  keyChanged: "baton_keys",
  /** An event was put on the bus; no payload. */
  eventPublished: "baton_events",
  /** A workflow's route changed; payload: the workflow name. */
  routesChanged: "baton_routes",
  /** Runs moved on a replica while console viewers watch elsewhere; payload: the sending replica, then run ids (or "*"), one a line. */
  runsMoved: "baton_runs_moved",
} as const;

export type Channel = keyof typeof CHANNELS;

/** A SELECT that sends `channel` with the payload given as SQL (a parameter, a column, or nothing). */
export function notifySql(channel: Channel, payloadSql = "''"): string {
  return `SELECT pg_notify('${CHANNELS[channel]}', ${payloadSql})`;
}

/** Tells the replicas whose console viewers watch that runs moved on replica `from` (undefined: too many to name, any may have). */
export async function announceRunsMoved(q: Queryable, from: string, runIds: string[] | undefined): Promise<void> {
  await q.query(notifySql("runsMoved", "$1"), [[from, ...(runIds ?? ["*"])].join("\n")]);
}

/** What a listener does with each channel's notifications. */
export interface NotificationHandlers {
  tasksReady(taskTypes: string[]): void;
  runEnded(runId: string): void;
  taskDefsChanged(): void;
  /** Undefined: every name (after a lost connection). */
  workflowDefsChanged(name: string | undefined): void;
  /** Undefined: every key (after a lost connection). */
  keyChanged(keyId: string | undefined): void;
  eventPublished(): void;
  /** Undefined: every name (after a lost connection). */
  routesChanged(name: string | undefined): void;
  /** Runs moved on replica `from`; undefined: too many to name, any may have moved. */
  runsMoved?(from: string, runIds: string[] | undefined): void;
  /** The connection dropped: notifications may have been missed meanwhile. */
  lost(): void;
}

const BY_NAME = new Map<string, Channel>(Object.entries(CHANNELS).map(([channel, name]) => [name, channel as Channel]));

/** Calls the handler of a notification's channel. */
function dispatch(handlers: NotificationHandlers, name: string, payload: string): void {
  switch (BY_NAME.get(name)) {
    case "tasksReady":
      return handlers.tasksReady(payload.split("\n"));
    case "runEnded":
      return handlers.runEnded(payload);
    case "taskDefsChanged":
      return handlers.taskDefsChanged();
    case "workflowDefsChanged":
      return handlers.workflowDefsChanged(payload || undefined);
    case "keyChanged":
      return handlers.keyChanged(payload || undefined);
    case "eventPublished":
      return handlers.eventPublished();
    case "routesChanged":
      return handlers.routesChanged(payload || undefined);
    case "runsMoved": {
      const [from = "", ...ids] = payload.split("\n");
      return handlers.runsMoved?.(from, ids.length === 1 && ids[0] === "*" ? undefined : ids);
    }
    case undefined:
      return;
  }
}

/** LISTENs to every channel on a dedicated connection, reconnecting with backoff when it drops. */
export class NotificationListener {
  private client: pg.Client | undefined;
  private stopped = false;
  private delay = 100;

  constructor(
    private readonly locator: PrimaryLocator,
    private readonly log: Logger,
    private readonly handlers: NotificationHandlers,
  ) {}

  async start(): Promise<void> {
    const client = new pg.Client({ connectionString: this.locator.current, application_name: "baton-listener" });
    client.on("notification", (n) => dispatch(this.handlers, n.channel, n.payload ?? ""));
    client.on("error", (error) => {
      this.log.warn({ err: error }, "notification connection lost; reconnecting");
      this.locator.trouble();
      this.handlers.lost();
      void client.end().catch(() => {});
      this.reconnect();
    });
    await client.connect();
    await client.query(
      Object.values(CHANNELS)
        .map((name) => `LISTEN ${name};`)
        .join(" "),
    );
    // Stopped while reconnecting: this connection would outlive the server.
    if (this.stopped) {
      await client.end().catch(() => {});
      return;
    }
    this.client = client;
    this.delay = 100;
  }

  private reconnect(): void {
    if (this.stopped) return;
    this.client = undefined;
    setTimeout(() => {
      if (this.stopped) return;
      this.start().catch(() => {
        this.delay = Math.min(this.delay * 2, 5000);
        this.reconnect();
      });
    }, this.delay).unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.client?.end().catch(() => {});
  }
}
