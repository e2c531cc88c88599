// Consumes Baton's event bus: any replica takes a batch of events with a
// lease, reads the active handlers of all their names at once, handles the
// events together (each runs the actions of every handler listening to its
// name, in order; the engine writes actions that arrive together in shared
// transactions), then deletes the batch in one statement. Handled one at a
// time, each event cost its own reads, deletion and transactions, however
// many waited. A process that dies mid-batch leaves its events to be taken
// again once the lease runs out (actions tolerate that: an ended task ignores
// a second completion, a start is keyed by event, handler and action, a
// variables update is recorded in its run as it is applied). It
// wakes on NOTIFY baton_events, when the clock is moved, and every `pollMs`
// otherwise.
import { parseJson } from "@baton/json";
import type { EventHandler } from "@baton/sdk";
import type { Clock } from "../clock.js";
import type { Json } from "../expressions/json.js";
import type { Logger } from "../logger.js";
import type { Engine } from "../runtime/engine.js";
import { HANDLERS_PER_EVENT, type StoredHandler } from "../store/event-handlers.js";
import type { Store, TakenEvent } from "../store/store.js";
import { runAction } from "./actions.js";
import type { OwnerCheck } from "./owner.js";
import { conditionHolds, expandInlineJson } from "./payload.js";
import { Ticker } from "../ticker.js";

/** An event's payload, and the same with JSON held in its strings expanded (made on first use). */
interface EventPayload {
  value: Json;
  expanded(): Json;
}

export interface EventConsumerOptions {
  /** Real-time period of the safety-net poll (events written without a NOTIFY). */
  pollMs?: number;
  /** How long a taken event stays invisible to other replicas (server clock). */
  leaseMs?: number;
  /** Events taken, handled together and deleted per round (at most the ~128 starts a keyless caller may have in progress). */
  batch?: number;
  /** Takes after which an event that keeps crashing its consumer is dropped (logged). */
  maxAttempts?: number;
}

/** What the consumer needs: the bus and handlers from the store, the engine for actions, the sandbox for conditions. */
export interface EventConsumerDeps {
  store: Pick<Store, "takeEvents" | "finishEvents" | "activeEventHandlers" | "getRun" | "runIdOfTask" | "finishedEventsOf">;
  engine: Pick<Engine, "handle" | "start">;
  /** Runs a handler's `javascript` condition in the sandbox. */
  evaluateScript: Parameters<typeof conditionHolds>[3];
  /** Reads conditions and action templates whose paths hold JSONPath filters, in the queries pool. */
  resolveWithFilters: Parameters<typeof conditionHolds>[4];
  clock: Clock;
  log: Logger;
  /** Set when the server requires keys: whether a handler's owner may carry out an action now. */
  ownerCheck?: OwnerCheck;
}

export class EventConsumer {
  private readonly ticker: Ticker;
  private readonly leaseMs: number;
  private readonly batch: number;
  private readonly maxAttempts: number;
  private readonly clock: Clock;
  private readonly log: Logger;

  constructor(
    private readonly deps: EventConsumerDeps,
    options: EventConsumerOptions = {},
  ) {
    this.clock = deps.clock;
    this.log = deps.log;
    this.leaseMs = options.leaseMs ?? 60_000;
    this.batch = options.batch ?? 50;
    this.maxAttempts = options.maxAttempts ?? 5;
    this.ticker = new Ticker(
      () => this.pass(),
      (error) => this.log.warn({ err: error }, "event consumer pass failed; its events will be taken again after their lease"),
      options.pollMs ?? 500,
      this.clock,
    );
  }

  start(): void {
    this.ticker.start();
  }

  stop(): Promise<void> {
    return this.ticker.stop();
  }

  /** Handles every event that can be taken now; a call during a pass waits for it and runs one more. */
  drain(): Promise<void> {
    if (this.ticker.stopped) return Promise.resolve();
    return this.ticker.run();
  }

  private async pass(): Promise<void> {
    for (;;) {
      if (this.ticker.stopped) return;
      const taken = await this.deps.store.takeEvents(this.clock.now(), this.leaseMs, this.batch);
      if (taken.length === 0) return;
      // At most HANDLERS_PER_EVENT (registration refuses more; the cap also bounds what was stored before it did).
      const handlers = await this.deps.store.activeEventHandlers(
        taken.map((e) => this.nameOf(e)),
        HANDLERS_PER_EVENT,
      );
      if (this.ticker.stopped) return; // they come back after their lease
      const handled = await Promise.allSettled(taken.map((event) => this.handle(event, handlers.get(this.nameOf(event)) ?? [])));
      // An event whose handling broke off comes back after its lease; the others are done.
      await this.deps.store.finishEvents(taken.filter((_, i) => handled[i]!.status === "fulfilled"));
      const broken = handled.find((h) => h.status === "rejected");
      if (broken) throw broken.reason;
      if (taken.length < this.batch) return;
    }
  }

  private async handle(event: TakenEvent, handlers: StoredHandler[]): Promise<void> {
    if (event.attempts > this.maxAttempts) {
      this.log.error({ eventId: event.id, sink: event.sink, attempts: event.attempts }, "event dropped: its handling did not finish in as many attempts");
      return;
    }
    let payload: Json;
    try {
      payload = parseJson(event.payload) as Json;
    } catch (error) {
      this.log.warn({ err: error, eventId: event.id }, "event dropped: its payload is not JSON");
      return;
    }
    const name = this.nameOf(event);
    // Expanded (expandInlineJSON) once for all the actions that ask, not once each.
    let expanded: Json | undefined;
    const read: EventPayload = { value: payload, expanded: () => (expanded ??= expandInlineJson(payload)) };
    for (const stored of handlers) {
      let handler: EventHandler;
      try {
        handler = parseJson(stored.body) as unknown as EventHandler;
      } catch (error) {
        this.log.warn({ err: error, handler: stored.name }, "event handler skipped: its stored JSON does not parse");
        continue;
      }
      await this.apply(handler, stored.owner, event, name, read);
    }
  }

  private async apply(handler: EventHandler, owner: string, event: TakenEvent, name: string, payload: EventPayload): Promise<void> {
    const where = { eventId: event.id, event: name, handler: handler.name };
    let passes: boolean;
    try {
      passes = await conditionHolds(handler.condition, handler.evaluatorType, payload.value, this.deps.evaluateScript, this.deps.resolveWithFilters);
    } catch (error) {
      this.log.warn({ ...where, err: error }, "event handler condition failed; no action taken");
      return;
    }
    if (!passes) {
      this.log.debug(where, "event handler condition is false; no action taken");
      return;
    }
    const now = this.clock.now();
    for (const [index, action] of (handler.actions ?? []).entries()) {
      const input = action.expandInlineJSON ? payload.expanded() : payload.value;
      try {
        const refused = await this.deps.ownerCheck?.(owner, action.action);
        if (refused !== undefined) {
          this.log.warn({ ...where, action: action.action, index, owner, reason: refused }, "event handler action refused: its owner may not change runs now");
          continue;
        }
        const outcome = await runAction(
          {
            engine: this.deps.engine,
            store: this.deps.store,
            eventId: event.id,
            eventName: name,
            root: event.root,
            ...(event.fairShare ? { fairShare: event.fairShare } : {}),
            handlerName: handler.name,
            index,
            now,
            resolveWithFilters: this.deps.resolveWithFilters,
          },
          action,
          input,
        );
        this.log.info({ ...where, action: action.action, index, ...outcome }, "event handler action carried out");
      } catch (error) {
        this.log.warn({ ...where, action: action.action, index, err: error }, "event handler action failed");
      }
    }
  }

  /** The name handlers listen to: a published event's, or the queue name its EVENT task computed (see system-tasks). */
  private nameOf(event: TakenEvent): string {
    return event.name ?? event.sink;
  }
}
