// baton tasks: queue depth per task type (what workers have waiting for
// them) and the workers connected now.
import type { Command } from "commander";
import { action } from "../cli/action.js";
import { table, time } from "../cli/output.js";

export function tasksCommand(program: Command): void {
  program
    .command("tasks")
    .description("queue depths per task type (ready, delayed (retry/callback), in progress) and the workers connected now")
    .action(
      action(async (ctx) => {
        const [queues, workers] = await ctx.call((c) => Promise.all([c.queues(), c.workers()]));
        const served = new Map<string, number>();
        for (const w of workers) for (const t of w.taskTypes) served.set(t, (served.get(t) ?? 0) + 1);
        const rows = queues.sort((a, b) => a.taskType.localeCompare(b.taskType)).map((q) => ({ ...q, workers: served.get(q.taskType) ?? 0 }));
        ctx.out.emit(rows, () => [
          ...(rows.length === 0
            ? ["no task queues"]
            : table(
                ["TASK TYPE", "READY", "DELAYED", "IN PROGRESS", "WORKERS"],
                rows.map((q) => [
                  q.taskType,
                  String(q.ready),
                  String(q.delayed),
                  String(q.inProgress),
                  q.workers === 0 && q.ready > 0 ? "none (tasks wait)" : String(q.workers),
                ]),
              )),
          "",
          ...(workers.length === 0
            ? ["no worker connected"]
            : table(
                ["WORKER", "TASK TYPES", "VIA", "FREE SLOTS", "HANDED OUT", "LAST SEEN"],
                workers.map((w) => [w.workerId || "-", w.taskTypes.join(","), w.kind, String(w.freeSlots), String(w.tasksDelivered), time(w.lastSeen)]),
              )),
        ]);
      }),
    );
}
