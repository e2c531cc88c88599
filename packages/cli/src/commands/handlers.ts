// baton handlers: Conductor event handlers on the server — list (the default),
// get, put (validated locally first, every error with its file and JSON path),
// delete — and send-event, which puts one event on the bus. -o json prints the
// handlers as Conductor's EventHandler JSON.
import type { Command } from "commander";
import { validateEventHandler } from "@baton/sdk";
import { action } from "../cli/action.js";
import type { Context } from "../cli/context.js";
import { jsonObjectArg } from "../cli/context.js";
import { CliError, Exit, usage } from "../cli/exit.js";
import { table } from "../cli/output.js";
import { emptyLoad, loadFile } from "../defs/load.js";
import { withGlobalOptions } from "../cli/subcommand.js";

interface ListOptions {
  event?: string;
  activeOnly?: boolean;
}

async function list(ctx: Context, opts: ListOptions): Promise<void> {
  const handlers = await ctx.call((c) =>
    c.listEventHandlers({ ...(opts.event ? { event: opts.event } : {}), ...(opts.activeOnly ? { activeOnly: true } : {}) }),
  );
  if (ctx.out.json) return ctx.out.value(handlers);
  if (handlers.length === 0) return ctx.out.line(opts.event ? `no event handler listens to ${opts.event}` : "no event handlers");
  ctx.out.emit(null, () =>
    table(
      ["NAME", "EVENT", "ACTIVE", "ACTIONS", "CONDITION"],
      handlers.map((h) => [
        String(h["name"]),
        String(h["event"]),
        h["active"] === true ? "yes" : "no",
        Array.isArray(h["actions"]) ? h["actions"].map((a) => String((a as Record<string, unknown>)["action"])).join(",") : "",
        typeof h["condition"] === "string" ? h["condition"] : "",
      ]),
    ),
  );
}

export function handlersCommand(program: Command): void {
  const handlers = program
    .command("handlers")
    .description("Conductor event handlers: list (default), get, put, delete; send-event puts an event on the bus")
    .option("--event <name>", "only the handlers listening to this event")
    .option("--active-only", "only active handlers")
    .action(action(async (ctx, opts: ListOptions) => list(ctx, opts)));

  withGlobalOptions(handlers.command("list").description("list event handlers (-o json: Conductor EventHandler JSON)"))
    .option("--event <name>", "only the handlers listening to this event")
    .option("--active-only", "only active handlers")
    .action(action(async (ctx, opts: ListOptions) => list(ctx, opts)));

  withGlobalOptions(handlers.command("get").description("print one event handler's JSON").argument("<name>", "handler name")).action(
    action(async (ctx, name: string) => {
      ctx.out.value(await ctx.call((c) => c.getEventHandler(name)));
    }),
  );

  withGlobalOptions(
    handlers
      .command("put")
      .description("create or replace event handlers from Conductor EventHandler JSON files (validated locally first; nothing is sent when one is invalid)")
      .argument("<files...>", "JSON files, each an EventHandler or a list of them"),
  ).action(
    action(async (ctx, files: string[]) => {
      const loaded = emptyLoad();
      for (const file of files) loadFile(file, true, loaded);
      const problems = [...loaded.problems];
      // Every object in the files given is taken as a handler (so its errors are reported), whatever it looks like.
      const items = [...loaded.eventHandlers, ...loaded.workflows, ...loaded.taskDefs];
      for (const e of items) {
        for (const issue of validateEventHandler(e.def).errors) problems.push({ file: e.file, path: e.pointer + issue.path, message: issue.message });
      }
      if (problems.length > 0) {
        if (ctx.out.json) ctx.out.value({ ok: false, errors: problems });
        else for (const p of problems) process.stderr.write(`${p.file}: ${p.path || "/"}: ${p.message}\n`);
        throw new CliError(`${problems.length} error${problems.length === 1 ? "" : "s"}; nothing was sent to the server`, Exit.VALIDATION);
      }
      const results: { name: string; source: string; status: "registered" | "unchanged" }[] = [];
      for (const e of items) {
        const response = await ctx.call((c) => c.registerEventHandler(e.def));
        for (const w of response.warnings) ctx.out.warn(`${response.name}: ${w.path || "/"}: ${w.message}`);
        const status = response.changed ? "registered" : "unchanged";
        results.push({ name: response.name, source: e.source, status });
        if (!ctx.out.json) ctx.out.line(`handler ${response.name}: ${status}`);
      }
      if (ctx.out.json) ctx.out.value({ ok: true, eventHandlers: results });
    }),
  );

  withGlobalOptions(handlers.command("delete").description("delete an event handler").argument("<name>", "handler name")).action(
    action(async (ctx, name: string) => {
      await ctx.call((c) => c.deleteEventHandler(name));
      ctx.out.emit({ ok: true, deleted: name }, () => `handler ${name}: deleted`);
    }),
  );

  withGlobalOptions(
    handlers
      .command("send-event")
      .description("put an event on the bus; the active handlers listening to it run their actions")
      .argument("<event>", 'the event name, e.g. "sqs:orders-COMPLETED"')
      .option("--payload <json>", "the payload: a JSON object, @file or @- (stdin)", "{}"),
  ).action(
    action(async (ctx, event: string, opts: { payload: string }) => {
      if (event.trim() === "") throw usage("<event> must not be empty");
      const payload = jsonObjectArg("--payload", opts.payload);
      const sent = await ctx.call((c) => c.publishEvent(event, payload));
      ctx.out.emit(
        { eventId: sent.eventId, event, activeHandlers: sent.activeHandlers },
        () => `event ${sent.eventId} sent to ${event}: ${sent.activeHandlers} active handler${sent.activeHandlers === 1 ? "" : "s"} listening`,
      );
    }),
  );
}
