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
  const failed = failedNow(run);
  if (failed.length) lines.push(`  failed    ${failed.join(", ")}`);
  lines.push(`  input     ${brief(run.input, 200)}`);
  const output = shownOutput(run);
  if (output !== undefined) lines.push(`  output    ${output}`);
  return lines;
}

/** Each reference's latest attempt: a step retried until it completed is not shown as failed. */
export function latestAttempts(run: ConductorWorkflow): ConductorTask[] {
  const latest = new Map<string, ConductorTask>();
  for (const t of [...run.tasks].sort((a, b) => a.seq - b.seq)) latest.set(`${t.referenceTaskName}#${t.iteration}`, t);
  return [...latest.values()];
}

const FAILED = new Set(["FAILED", "FAILED_WITH_TERMINAL_ERROR", "TIMED_OUT"]);

/** References whose latest attempt failed (Conductor's failedReferenceTaskNames keeps every one that ever did). */
function failedNow(run: ConductorWorkflow): string[] {
  return [
    ...new Set(
      latestAttempts(run)
        .filter((t) => FAILED.has(t.status))
        .map((t) => t.referenceTaskName),
    ),
  ];
}

/**
 * The output as it stands: none while the run is running (after a rerun the
 * old output is no longer current), and for a run that ended early only the
 * fields it produced (Conductor fills the others with null).
 */
function shownOutput(run: ConductorWorkflow): string | undefined {
  if (!isEnded(run.status)) return undefined;
  if (run.status === "COMPLETED") return brief(run.output, 200);
  const produced = Object.fromEntries(Object.entries(run.output).filter(([, v]) => v !== null));
  return Object.keys(produced).length ? brief(produced, 200) : `- (none: the run ${run.status.toLowerCase().replace("_", " ")})`;
}

/** Text cut at a word boundary, with … when cut. */
export function cutAtWord(text: string, max: number): string {
  const flat = text.replace(/\s+/g, " ").trim();
  if (flat.length <= max) return flat;
  const cut = flat.slice(0, max - 1);
  const space = cut.lastIndexOf(" ");
  return (space > max / 2 ? cut.slice(0, space) : cut) + "…";
}

function taskDuration(task: ConductorTask, now: number): string {
  if (!task.startTime) return "-";
  return duration((task.endTime || now) - task.startTime);
}

/** A task's note: why it failed, its sub-run, or that a later attempt replaced it. */
function note(t: ConductorTask, run: ConductorWorkflow): string {
  const replaced = t.retried || run.tasks.some((o) => o.seq > t.seq && o.referenceTaskName === t.referenceTaskName && o.iteration === t.iteration);
  const parts = [
    replaced ? "retried:" : "",
    t.reasonForIncompletion ? cutAtWord(t.reasonForIncompletion, 80) : t.subWorkflowId ? `sub-run ${t.subWorkflowId}` : "",
  ];
  return parts.filter(Boolean).join(" ");
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
      t.workerId ?? "",
      note(t, run),
    ]);
  return table(["SEQ", "REF", "TYPE", "STATUS", "RETRIES", "TIME", "WORKER", "NOTE"], rows);
}

export function runReport(run: ConductorWorkflow): string[] {
  return [...summary(run), "", ...taskTable(run)];
}
