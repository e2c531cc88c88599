// baton tasks: queue depth per task type (what workers have waiting for
// them), the type's concurrency and rate limits (its task definition), and
// the workers connected now. The console's Queues page shows the same.
import type { Command } from "commander";
import { action } from "../cli/action.js";
import { table, time } from "../cli/output.js";

interface Limits {
  concurrency?: number;
  rate?: { perFrequency: number; frequencySeconds: number };
}

/** The limits a task definition sets (none when it has none, or no definition). */
function limitsOf(def: Record<string, unknown>): Limits {
  const concurrency = Number(def["concurrentExecLimit"] ?? 0);
  const perFrequency = Number(def["rateLimitPerFrequency"] ?? 0);
  return {
    ...(concurrency > 0 ? { concurrency } : {}),
    ...(perFrequency > 0 ? { rate: { perFrequency, frequencySeconds: Number(def["rateLimitFrequencyInSeconds"] ?? 1) || 1 } } : {}),
  };
}

export function tasksCommand(program: Command): void {
  program
    .command("tasks")
    .description("per task type: queue depths (ready, delayed (retry/callback), in progress), concurrency and rate limits; and the workers connected now")
    .action(
      action(async (ctx) => {
        const [queues, workers, defs] = await ctx.call((c) => Promise.all([c.queues(), c.workers(), c.listTaskDefs()]));
        const limits = new Map<string, Limits>();
        for (const def of defs) {
          limits.set(String(def["name"]), limitsOf(def));
        }
        const served = new Map<string, number>();
        for (const w of workers) for (const t of w.taskTypes) served.set(t, (served.get(t) ?? 0) + 1);
        const rows = queues
          .sort((a, b) => a.taskType.localeCompare(b.taskType))
          .map((q) => ({ ...q, ...limits.get(q.taskType), workers: served.get(q.taskType) ?? 0 }));
        ctx.out.emit(rows, () => [
          ...(rows.length === 0
            ? ["no task queues"]
            : table(
                ["TASK TYPE", "READY", "DELAYED", "IN PROGRESS", "CONCURRENCY", "RATE", "WORKERS"],
                rows.map((q) => [
                  q.taskType,
                  String(q.ready),
                  String(q.delayed),
                  String(q.inProgress),
                  q.concurrency ? String(q.concurrency) : "-",
                  q.rate ? `${q.rate.perFrequency} per ${q.rate.frequencySeconds} s` : "-",
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
