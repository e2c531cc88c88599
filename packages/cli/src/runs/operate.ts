// What an operation on a run prints: a line in text mode, the run as it is
// afterwards (Conductor's Workflow) in JSON mode. Operations never prompt.
import type { BatonClient } from "@baton/client";
import type { Context } from "../cli/context.js";

export async function operate(ctx: Context, id: string, done: string, op: (c: BatonClient) => Promise<unknown>): Promise<void> {
  await ctx.call(op);
  if (ctx.out.json) ctx.out.value(await ctx.call((c) => c.getWorkflow(id)));
  else ctx.out.line(`${done} ${id}`);
}
