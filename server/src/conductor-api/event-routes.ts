// /api/event: Conductor's event handlers, through the same event service
// (and validation) as `baton handlers put`.
import { shortened } from "@baton/json";
import type { Principal } from "../auth/policy.js";
import { create } from "@bufbuild/protobuf";
import {
  DeleteEventHandlerRequestSchema,
  GetEventHandlerRequestSchema,
  ListEventHandlersRequestSchema,
  RegisterEventHandlerRequestSchema,
  grpc,
  parseJson,
  RpcError,
} from "@baton/protocol";
import { LIST_PAGE_MAX } from "../service/list-pages.js";
import { wholeList } from "./whole-lists.js";
import { HttpError } from "./errors.js";
import type { Route } from "./http.js";
import type { EventHandlerView } from "./body-views.js";
import { boolParam, callOf, type Services } from "./services.js";

const EVENTS = "baton.v1.EventService";

export function eventRoutes(s: Services): Route[] {
  const exists = async (name: string, signal: AbortSignal) => {
    try {
      await s.events.getEventHandler(create(GetEventHandlerRequestSchema, { name }), callOf(signal));
      return true;
    } catch (error) {
      if (error instanceof RpcError && error.code === grpc.status.NOT_FOUND) return false;
      throw error;
    }
  };
  // The caller's key becomes the handler's owner: its actions run with that key's rights.
  const put = (handlerJson: string, signal: AbortSignal, principal: Principal) =>
    s.events.registerEventHandler(create(RegisterEventHandlerRequestSchema, { handlerJson }), callOf(signal, principal));
  // Conductor answers the whole list at once: read it page by page.
  const list = async (event: string, activeOnly: boolean, signal: AbortSignal) => {
    const handlers = await wholeList(
      "event handlers",
      async (pageToken) => {
        const page = await s.events.listEventHandlers(
          create(ListEventHandlersRequestSchema, { event, activeOnly, pageSize: LIST_PAGE_MAX, pageToken }),
          callOf(signal),
        );
        return { items: page.handlerJson, nextPageToken: page.nextPageToken };
      },
      (h) => h.length,
      "gRPC ListEventHandlers with page_token, or `baton handlers`",
    );
    return handlers.map((h) => parseJson(h));
  };

  /** POST creates (409 when the name is taken), PUT replaces (404 when it is not). */
  const register = (method: "POST" | "PUT"): Route => ({
    method,
    path: "/api/event",
    rights: `${EVENTS}/RegisterEventHandler`,
    touches: (r) => ({ also: (r.body as EventHandlerView).rights }),
    view: "eventHandler",
    handle: async (r) => {
      const { name, text } = r.body as EventHandlerView;
      const found = await exists(name, r.signal);
      if (method === "POST" && found) throw new HttpError(409, `EventHandler with name ${shortened(name)} already exists!`);
      if (method === "PUT" && !found) throw new HttpError(404, `EventHandler with name ${shortened(name)} not found!`);
      await put(text, r.signal, r.principal);
      return undefined;
    },
  });

  return [
    register("POST"),
    register("PUT"),
    {
      method: "GET",
      path: "/api/event",
      rights: `${EVENTS}/ListEventHandlers`,
      handle: async (r) => ({ json: await list("", false, r.signal) }),
    },
    {
      method: "GET",
      path: "/api/event/:event",
      rights: `${EVENTS}/ListEventHandlers`,
      handle: async (r) => ({ json: await list(r.params["event"] ?? "", boolParam(r.query, "activeOnly", true), r.signal) }),
    },
    {
      method: "DELETE",
      path: "/api/event/:name",
      rights: `${EVENTS}/DeleteEventHandler`,
      handle: async (r) => {
        await s.events.deleteEventHandler(create(DeleteEventHandlerRequestSchema, { name: r.params["name"] ?? "" }), callOf(r.signal));
        return undefined;
      },
    },
  ];
}
