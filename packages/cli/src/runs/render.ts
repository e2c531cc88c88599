// A run (Conductor's Workflow shape) as text: a summary and a task table.
import type { ConductorTask, ConductorWorkflow } from "@baton/client";
import { brief, duration, table, time } from "../cli/output.js";

export const RUN_STATUSES = ["RUNNING", "COMPLETED", "FAILED", "TIMED_OUT", "TERMINATED", "PAUSED"] as const;

/** Ended runs do not change unless an operator acts (retry, restart, rerun). */
export function isEnded(status: string): boolean {
  return status === "COMPLETED" || status === "FAILED" || status === "TIMED_OUT" || status === "TERMINATED";
}

export function runDuration(run: ConductorWorkflow, now = Date.now()): number {
  return (run.endTime || now) - run.createTime;
}

/** `3f2c… image_pipeline v2 COMPLETED in 1.2 s` */
export function headline(run: ConductorWorkflow): string {
  const took = isEnded(run.status) ? ` in ${duration(runDuration(run))}` : ` for ${duration(runDuration(run))}`;
  return `${run.workflowId}  ${run.workflowName} v${run.workflowVersion}  ${run.status}${took}`;
}

export function summary(run: ConductorWorkflow): string[] {
  const lines = [headline(run)];
  lines.push(`  started   ${time(run.createTime)}${run.endTime ? `   ended ${time(run.endTime)}` : ""}`);
  if (run.route) {
    const why = run.route.reason === "sticky" ? `sticky key ${JSON.stringify(run.route.stickyKey ?? "")}` : "by weight";
    lines.push(`  version   ${run.workflowVersion} (route revision ${run.route.revision}: ${run.route.weight}% ${why})`);
  }
  if (run.correlationId) lines.push(`  correlation ${run.correlationId}`);
  if (run.parentWorkflowId) lines.push(`  parent    ${run.parentWorkflowId}`);
  if (run.reasonForIncompletion) lines.push(`  reason    ${run.reasonForIncompletion}`);
  if (run.failedReferenceTaskNames.length) lines.push(`  failed    ${run.failedReferenceTaskNames.join(", ")}`);
  lines.push(`  input     ${brief(run.input, 200)}`);
  if (isEnded(run.status) || Object.keys(run.output).length) lines.push(`  output    ${brief(run.output, 200)}`);
  return lines;
}

function taskDuration(task: ConductorTask, now: number): string {
  if (!task.startTime) return "-";
  return duration((task.endTime || now) - task.startTime);
}

export function taskTable(run: ConductorWorkflow, now = Date.now()): string[] {
  if (run.tasks.length === 0) return ["(no tasks yet)"];
  const rows = [...run.tasks]
    .sort((a, b) => a.seq - b.seq)
    .map((t) => [
      String(t.seq),
      t.referenceTaskName,
      t.taskType === "SIMPLE" && t.taskDefName ? t.taskDefName : t.taskType,
      t.status,
      String(t.retryCount),
      taskDuration(t, now),
      t.reasonForIncompletion ? t.reasonForIncompletion.replace(/\s+/g, " ").slice(0, 80) : t.subWorkflowId ? `sub-run ${t.subWorkflowId}` : "",
    ]);
  return table(["SEQ", "REF", "TYPE", "STATUS", "RETRIES", "TIME", "NOTE"], rows);
}

export function runReport(run: ConductorWorkflow): string[] {
  return [...summary(run), "", ...taskTable(run)];
}
