// EventService: Conductor event handlers in (validated, stored as their JSON)
// and events onto the bus (PublishEvent); the EventConsumer does the rest.
import { quoted, shortened } from "@baton/json";
import { EventService, grpc, RpcError, stringifyJson, type ServiceImpl } from "@baton/protocol";
import { describeIssues, validateEventHandler, type EventHandler } from "@baton/sdk";
import { keyIdOfCall, principalOfCall } from "../auth/guard.js";
import { eventHandlerRights, lacksRights } from "../auth/policy.js";
import type { Clock } from "../clock.js";
import type { Limits } from "../limits.js";
import { TooManyEventsWaiting } from "../store/event-bus.js";
import { HANDLERS_PER_EVENT, TooManyHandlers } from "../store/event-handlers.js";
import type { Store } from "../store/store.js";
import { notePayloadText, payloadText } from "../payload-text.js";
import { invalid, LARGE_STEP_BYTES, notFound, parseLargePayload, rpc } from "./errors.js";
import { listPage, pageWithinBytes } from "./list-pages.js";

/** What the event service needs: handlers and the bus are store operations; `published` wakes this replica's consumer at once. */
export interface EventServiceDeps {
  store: Pick<Store, "putEventHandler" | "getEventHandler" | "listEventHandlers" | "deleteEventHandler" | "publishEvent">;
  clock: Clock;
  limits: Limits;
  published?: () => void;
}

export function eventService({ store, clock, limits, published: onPublished }: EventServiceDeps): ServiceImpl<typeof EventService> {
  return {
    registerEventHandler: rpc(async (req, call) => {
      if (req.handlerJson.trim() === "") throw invalid("handler_json is required");
      // As large as a definition may be: a large one is read a step per turn, in line with other large payloads.
      const handler = (await parseLargePayload("handler_json", req.handlerJson, limits.definitionBytes, LARGE_STEP_BYTES)) as unknown as EventHandler;
      // Written as its text, not written out again.
      notePayloadText(handler, req.handlerJson);
      // Its actions may change runs: registering it needs their rights too. Checked here, for every door, once its
      // text is read a step per turn (the guard parsed a 4 MiB handler in one turn only to find them).
      const principal = principalOfCall(call);
      const lacking = principal ? lacksRights(principal, eventHandlerRights(handler)) : undefined;
      if (lacking) throw new RpcError(grpc.status.PERMISSION_DENIED, lacking);
      const { errors, warnings } = validateEventHandler(handler);
      if (errors.length > 0) throw invalid(`invalid event handler (${errors.length} error${errors.length > 1 ? "s" : ""}): ${describeIssues(errors)}`);
      let changed: boolean;
      try {
        changed = await store.putEventHandler(
          // Its actions run with the rights of the key that registered it, checked when each runs (event-handlers/owner.ts).
          {
            name: handler.name,
            event: handler.event,
            active: handler.active === true,
            body: payloadText(handler) ?? stringifyJson(handler),
            owner: keyIdOfCall(call),
          },
          clock.now(),
          HANDLERS_PER_EVENT,
        );
      } catch (error) {
        if (!(error instanceof TooManyHandlers)) throw error;
        throw new RpcError(
          grpc.status.FAILED_PRECONDITION,
          `event ${quoted(error.event)} already has ${error.max} handlers, the most one event may have (each event runs them all): ` +
            `remove one it no longer needs, or add this handler's actions to one of them`,
        );
      }
      return { name: handler.name, changed, warnings: warnings.map((w) => ({ path: w.path, message: w.message })) };
    }),

    getEventHandler: rpc(async (req) => {
      const found = await store.getEventHandler(req.name);
      if (!found) throw notFound(`no event handler ${shortened(req.name)}`);
      return { handlerJson: found.body };
    }),

    listEventHandlers: rpc(async (req) => {
      const page = listPage("event-handlers", 1, req.pageSize, req.pageToken);
      const shown = await pageWithinBytes(
        "event-handlers",
        page,
        (after, limit, room) => store.listEventHandlers({ event: req.event, activeOnly: req.activeOnly, limit, ...(after ? { after: after[0] } : {}) }, room),
        (r) => [r.name],
      );
      return { handlerJson: shown.items.map((r) => r.body), nextPageToken: shown.nextPageToken };
    }),

    deleteEventHandler: rpc(async (req) => {
      if (!(await store.deleteEventHandler(req.name))) throw notFound(`no event handler ${shortened(req.name)}`);
      return {};
    }),

    publishEvent: rpc(async (req, call) => {
      if (req.event.trim() === "") throw invalid("event is required");
      if (Buffer.byteLength(req.event) > 1024) throw invalid("event names are at most 1024 bytes");
      const payload = await parseLargePayload("payload_json", req.payloadJson, limits.payloadBytes, LARGE_STEP_BYTES);
      notePayloadText(payload, req.payloadJson);
      // Taken in turn by its key, and bounded per key (event-bus.ts).
      let published: { id: number; activeHandlers: number };
      try {
        published = await store.publishEvent(
          req.event,
          payloadText(payload) ?? stringifyJson(payload),
          clock.now(),
          keyIdOfCall(call),
          limits.waitingEventsPerKey,
        );
      } catch (error) {
        if (!(error instanceof TooManyEventsWaiting)) throw error;
        throw new RpcError(
          grpc.status.RESOURCE_EXHAUSTED,
          `this key has ${error.max} published events not yet handled, the most one key may (BATON_MAX_WAITING_EVENTS_PER_KEY): ` +
            `publish again once event handlers have taken some, or ask the server's operator to raise the setting`,
        );
      }
      onPublished?.();
      return { eventId: BigInt(published.id), activeHandlers: published.activeHandlers };
    }),
  };
}
