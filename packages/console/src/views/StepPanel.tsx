// The selected step of a run: its attempts (input, output, reason, worker,
// lease, logs, with the task's controls), or a dynamic fork's branches by
// status. Payloads the watch left out are fetched when a task is opened.
import { useEffect, useState } from "preact/hooks";
import { errorText, tasks as taskApi, workflows, type Task, type Workflow } from "../api.js";
import type { GraphNode } from "../graph/model.js";
import { runLink } from "../router.js";
import { ErrorBox, Json, Status, duration, taskStatusName, time } from "../ui.js";
import { TaskControls, type Notice } from "./Controls.js";

export function StepPanel({ node, run, onDone }: { node: GraphNode; run: Workflow; onDone: (n: Notice) => void }) {
  if (node.kind === "dynamic") return <BranchesPanel node={node} run={run} onDone={onDone} />;
  if (node.kind === "start" || node.kind === "end") {
    return (
      <div class="panel">
        <h2>{node.label}</h2>
        <p class="muted">{node.kind === "start" ? "Where the run began." : "Where the run ends."}</p>
      </div>
    );
  }
  const attempts = node.instances.map((i) => run.tasks.find((t) => t.taskId === i.taskId)).filter((t): t is Task => t !== undefined);
  return <AttemptsPanel title={node.label} type={node.type} attempts={attempts} run={run} onDone={onDone} notTaken={node.state} />;
}

/**
 * A task with its input and output whole: the watch leaves out payloads over
 * the watch's taskPayloadLimit (a fork's list of 10,000 branches), fetched here when
 * the task is opened. Undefined while that fetch is out.
 */
function useWholeTask(task: Task | undefined): { task: Task | undefined; error?: string } {
  const [whole, setWhole] = useState<{ task?: Task; error?: string }>({});
  useEffect(() => {
    setWhole({});
    if (!task?.payloadTrimmed) return;
    let live = true;
    workflows.getTask({ workflowId: task.workflowId, taskId: task.taskId }).then(
      (r) => live && setWhole({ ...(r.task ? { task: r.task } : {}) }),
      (e) => live && setWhole({ error: errorText(e) }),
    );
    return () => {
      live = false;
    };
  }, [task?.taskId, task?.updateTimeMs, task?.payloadTrimmed]);
  if (!task?.payloadTrimmed) return { task };
  return { task: whole.task && whole.task.taskId === task.taskId ? whole.task : undefined, ...(whole.error ? { error: whole.error } : {}) };
}

function AttemptsPanel({
  title,
  type,
  attempts,
  run,
  onDone,
  notTaken,
}: {
  title: string;
  type: string;
  attempts: Task[];
  run: Workflow;
  onDone: (n: Notice) => void;
  notTaken: string;
}) {
  const [pick, setPick] = useState<number | undefined>(undefined);
  const shown = attempts[pick ?? attempts.length - 1];
  const whole = useWholeTask(shown);
  const task = whole.task ?? shown;
  return (
    <div class="panel" data-panel={title}>
      <h2>
        {title} <span class="muted small">{type}</span>
      </h2>
      {!task ? (
        <>
          <p class="muted">{notTaken === "NOT_TAKEN" ? "This step was not taken in this run." : "This step has not been reached yet."}</p>
          <TaskControls run={run} refName={title} task={undefined} onDone={onDone} />
        </>
      ) : (
        <>
          {attempts.length > 1 ? (
            <div class="attempts" role="tablist" aria-label="attempts">
              {attempts.map((a, i) => (
                <button type="button" class={`attempt ${a === task ? "active" : ""}`} onClick={() => setPick(i)} title={taskStatusName(a.status)}>
                  <i class={`dot st-${taskStatusName(a.status).toLowerCase().replace(/_/g, "-")}`} />
                  attempt {i + 1}
                </button>
              ))}
            </div>
          ) : null}
          {whole.error ? <ErrorBox message={`could not load the task's input and output: ${whole.error}`} /> : null}
          <TaskDetail task={task} />
          <TaskControls run={run} refName={title} task={task} onDone={onDone} />
        </>
      )}
    </div>
  );
}

function TaskDetail({ task }: { task: Task }) {
  const [logs, setLogs] = useState<{ message: string; createdTimeMs: bigint }[] | undefined>(undefined);
  const [logError, setLogError] = useState<string | undefined>(undefined);
  useEffect(() => {
    setLogs(undefined);
    setLogError(undefined);
    taskApi.getTaskLogs({ taskId: task.taskId }).then(
      (r) => setLogs(r.logs),
      (e) => setLogError(errorText(e)),
    );
  }, [task.taskId, task.updateTimeMs]);
  const queued = task.startTimeMs ? Number(task.startTimeMs - task.scheduledTimeMs) : NaN;
  const ran = task.startTimeMs && task.endTimeMs ? Number(task.endTimeMs - task.startTimeMs) : NaN;
  const status = taskStatusName(task.status);
  return (
    <div class="task-detail">
      <dl class="facts">
        <dt>status</dt>
        <dd>
          <Status status={status} />
        </dd>
        <dt>task id</dt>
        <dd class="mono">{task.taskId}</dd>
        {task.taskDefName && task.taskDefName !== task.referenceTaskName ? (
          <>
            <dt>task type</dt>
            <dd class="mono">{task.taskDefName}</dd>
          </>
        ) : null}
        <dt>worker</dt>
        <dd class="mono">{task.workerId || "—"}</dd>
        <dt>scheduled</dt>
        <dd>{time(task.scheduledTimeMs)}</dd>
        <dt>queued for</dt>
        <dd>{duration(queued)}</dd>
        <dt>ran for</dt>
        <dd>{duration(ran)}</dd>
        <dt>retry / polls</dt>
        <dd>
          {task.retryCount} / {task.pollCount}
        </dd>
        {task.leaseExpiresMs ? (
          <>
            <dt>lease until</dt>
            <dd>{time(task.leaseExpiresMs)}</dd>
          </>
        ) : null}
        {task.subWorkflowId ? (
          <>
            <dt>child run</dt>
            <dd>
              <a href={runLink(task.subWorkflowId)} class="mono">
                {task.subWorkflowId}
              </a>
            </dd>
          </>
        ) : null}
      </dl>
      {task.reasonForIncompletion ? (
        <div class="reason" data-reason>
          {task.reasonForIncompletion}
        </div>
      ) : null}
      {task.payloadTrimmed ? (
        <p class="muted">Loading input and output…</p>
      ) : (
        <>
          <h3>Input</h3>
          <Json value={task.inputJson} />
          <h3>Output</h3>
          <Json value={task.outputJson} />
        </>
      )}
      <h3>Logs</h3>
      {logError ? (
        <p class="muted">{logError}</p>
      ) : !logs ? (
        <p class="muted">…</p>
      ) : logs.length === 0 ? (
        <p class="muted">No log lines.</p>
      ) : (
        <pre class="logs">{logs.map((l) => `${time(l.createdTimeMs)}  ${l.message}`).join("\n")}</pre>
      )}
    </div>
  );
}

/** A dynamic fork's branches: counts per status and the branches of one status. */
function BranchesPanel({ node, run, onDone }: { node: GraphNode; run: Workflow; onDone: (n: Notice) => void }) {
  const counts = Object.entries(node.counts ?? {}).sort((a, b) => b[1] - a[1]);
  const [filter, setFilter] = useState<string | undefined>(counts.find(([s]) => s.startsWith("FAILED") || s === "TIMED_OUT")?.[0]);
  const [open, setOpen] = useState<string | undefined>(undefined);
  const latest = new Map<string, (typeof node.instances)[number]>();
  for (const t of node.instances) latest.set(t.referenceTaskName, t);
  const shown = [...latest.values()].filter((t) => !filter || t.status === filter);
  const chosen = open ? run.tasks.filter((t) => t.referenceTaskName === open) : [];
  return (
    <div class="panel">
      <h2>
        {node.ref} <span class="muted small">dynamic fork</span>
      </h2>
      <p>{node.label}</p>
      <div class="chips">
        <button type="button" class={`chip ${!filter ? "active" : ""}`} onClick={() => setFilter(undefined)}>
          all {latest.size.toLocaleString("en-US")}
        </button>
        {counts.map(([s, n]) => (
          <button type="button" class={`chip ${filter === s ? "active" : ""}`} onClick={() => setFilter(s)}>
            <Status status={s} /> {n.toLocaleString("en-US")}
          </button>
        ))}
      </div>
      <ul class="branch-list">
        {shown.slice(0, 200).map((t) => (
          <li>
            <button type="button" class="link" onClick={() => setOpen(t.referenceTaskName)}>
              {t.referenceTaskName}
            </button>{" "}
            <Status status={t.status} />
          </li>
        ))}
        {shown.length > 200 ? <li class="muted">… and {(shown.length - 200).toLocaleString("en-US")} more (pick a status to narrow)</li> : null}
      </ul>
      {chosen.length > 0 ? <AttemptsPanel title={open!} type={chosen[0]!.taskType} attempts={chosen} run={run} onDone={onDone} notTaken="" /> : null}
    </div>
  );
}
