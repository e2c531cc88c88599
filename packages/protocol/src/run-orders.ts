// The runs list's orders by the names people type and link: `baton search
// --sort end-desc` and the console's address bar (`?order=end-desc`).
import { RunOrder } from "./gen/baton/v1/workflow_service_pb.js";

export const RUN_ORDERS = {
  "start-desc": RunOrder.START_DESC,
  "start-asc": RunOrder.START_ASC,
  "end-desc": RunOrder.END_DESC,
  "end-asc": RunOrder.END_ASC,
  "name-asc": RunOrder.NAME_ASC,
  "name-desc": RunOrder.NAME_DESC,
  "status-asc": RunOrder.STATUS_ASC,
  "status-desc": RunOrder.STATUS_DESC,
} as const;

export type RunOrderName = keyof typeof RUN_ORDERS;

/** Whether `text` names one of the orders (its own keys only: "toString" is not an order). */
export function isRunOrderName(text: string): text is RunOrderName {
  return Object.hasOwn(RUN_ORDERS, text);
}
