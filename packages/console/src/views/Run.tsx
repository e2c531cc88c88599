// One run: its graph (the path taken, steps not taken greyed, loops with an
// iteration picker, dynamic forks grouped), a timeline of every attempt, the
// selected step's attempts (input, output, reason, worker, lease, logs), the
// run's data and its controls. Live: a long poll (WatchWorkflow) answers the
// moment the run moves.
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { Code, errorCode, errorText, tasks as taskApi, workflows, type Task, type Workflow } from "../api.js";
import { GraphView } from "../graph/GraphView.js";
import { layout as layoutGraph } from "../graph/layout.js";
import { buildGraph, type GraphNode, type WorkflowDefJson } from "../graph/model.js";
import { defLink, runLink } from "../router.js";
import { Empty, ErrorBox, Json, Status, duration, taskStatusName, time, workflowStatusName } from "../ui.js";
import { RunControls, TaskControls, type Notice } from "./Controls.js";
import { Timeline } from "./Timeline.js";

/** How long one watch call waits for a change before asking again. */
const WATCH_MS = 25_000;
/** Task inputs and outputs longer than this come with the run only when the task is opened (useWholeTask). */
const TASK_PAYLOAD_LIMIT = 4096;

interface Loaded {
  run: Workflow;
  state: string;
}

/** Keeps the run current: the first answer at once, then whenever it moves. */
function useLiveRun(id: string): { loaded: Loaded | undefined; error: { code: Code | undefined; text: string } | undefined; reload: () => void } {
  const [loaded, setLoaded] = useState<Loaded | undefined>(undefined);
  const [error, setError] = useState<{ code: Code | undefined; text: string } | undefined>(undefined);
  const [generation, setGeneration] = useState(0);
  const known = useRef("");
  useEffect(() => {
    const abort = new AbortController();
    known.current = "";
    setLoaded(undefined);
    setError(undefined);
    (async () => {
      let failures = 0;
      while (!abort.signal.aborted) {
        try {
          const answer = await workflows.watchWorkflow(
            { workflowId: id, knownState: known.current, waitMs: BigInt(known.current ? WATCH_MS : 0), taskPayloadLimit: TASK_PAYLOAD_LIMIT },
            { signal: abort.signal, timeoutMs: WATCH_MS + 10_000 },
          );
          failures = 0;
          setError(undefined);
          if (answer.changed && answer.workflow) {
            known.current = answer.state;
            setLoaded({ run: answer.workflow, state: answer.state });
          }
        } catch (e) {
          if (abort.signal.aborted) return;
          const code = errorCode(e);
          setError({ code, text: errorText(e) });
          if (code === Code.NotFound || code === Code.PermissionDenied || code === Code.Unauthenticated || code === Code.InvalidArgument) return;
          failures++;
          await new Promise((r) => setTimeout(r, Math.min(30_000, 500 * 2 ** failures)));
        }
      }
    })();
    return () => abort.abort();
  }, [id, generation]);
  return { loaded, error, reload: () => setGeneration((g) => g + 1) };
}

function parseDef(json: string): WorkflowDefJson {
  try {
    return JSON.parse(json || "{}") as WorkflowDefJson;
  } catch {
    return {};
  }
}

export function RunPage({ id }: { id: string }) {
  const { loaded, error, reload } = useLiveRun(id);
  const [selected, setSelected] = useState<string | undefined>(undefined);
  const [iterations, setIterations] = useState<Record<string, number>>({});
  const [tab, setTab] = useState<"timeline" | "data" | "tasks">("timeline");
  const [notice, setNotice] = useState<Notice | undefined>(undefined);
  const run = loaded?.run;
  const status = run ? workflowStatusName(run.status) : "";
  const def = useMemo(() => parseDef(run?.workflowDefinitionJson ?? ""), [run?.workflowDefinitionJson]);
  const graph = useMemo(
    () =>
      run
        ? buildGraph(
            def,
            run.tasks.map((t) => ({ ...t, status: taskStatusName(t.status) })),
            status,
            iterations,
          )
        : undefined,
    [run, def, status, iterations],
  );
  const placed = useMemo(() => (graph ? layoutGraph(graph) : undefined), [graph]);
  const node = placed?.nodes.find((n) => n.id === selected);

  // After an action: say what happened; on refusal the run may have moved, so read it again.
  const report = (n: Notice) => {
    setNotice(n);
    if (n.kind === "error") reload();
  };

  if (error && !run) {
    return (
      <section class="page">
        <h1>Run {id}</h1>
        {error.code === Code.NotFound ? (
          <div class="not-found" role="alert">
            <strong>Not found.</strong> {error.text}. <a href="/runs">Back to runs</a>
          </div>
        ) : (
          <ErrorBox message={error.text} />
        )}
      </section>
    );
  }
  if (!run || !placed) return <section class="page"><p class="muted">Loading run {id}…</p></section>;

  const children = run.tasks.filter((t) => t.subWorkflowId);
  return (
    <section class="page run-page">
      <header class="run-head">
        <div>
          <div class="crumbs">
            <a href="/runs">Runs</a> / <a href={defLink(run.workflowName, run.workflowVersion)}>{run.workflowName} v{run.workflowVersion}</a>
          </div>
          <h1>
            {run.workflowName} <Status status={status} />
          </h1>
          <div class="meta">
            <span title="run id" class="mono">{run.workflowId}</span>
            {run.correlationId ? <span>correlation <span class="mono">{run.correlationId}</span></span> : null}
            <span>started {time(run.createTimeMs)}</span>
            <span>{run.endTimeMs ? `took ${duration(Number(run.endTimeMs - run.createTimeMs))}` : `running for ${duration(Date.now() - Number(run.createTimeMs))}`}</span>
            {run.parentWorkflowId ? (
              <span>
                parent <a href={runLink(run.parentWorkflowId)} class="mono">{run.parentWorkflowId.slice(0, 8)}</a>
              </span>
            ) : null}
            <span class="live" title="updates as the run moves">● live</span>
          </div>
          {run.reasonForIncompletion ? <div class="reason">{run.reasonForIncompletion}</div> : null}
        </div>
        <RunControls run={run} onDone={report} />
      </header>
      {notice ? (
        <div class={`notice ${notice.kind}`} role={notice.kind === "error" ? "alert" : "status"}>
          {notice.text}
          <button type="button" class="ghost small" onClick={() => setNotice(undefined)} aria-label="dismiss">
            ×
          </button>
        </div>
      ) : null}
      {error ? <ErrorBox message={`lost the live view: ${error.text} (retrying)`} /> : null}
      <div class="run-body">
        <div class="graph-pane">
          <Legend />
          <GraphView
            layout={placed}
            selected={selected}
            fitKey={`${run.workflowId}:${run.workflowDefinitionJson.length}`}
            onSelect={(n) => setSelected(n.id)}
            onIteration={(ref, n) => setIterations((it) => ({ ...it, [ref]: n }))}
            childRunOf={(n) => (n.type === "SUB_WORKFLOW" ? n.instances[n.instances.length - 1]?.subWorkflowId || undefined : undefined)}
          />
        </div>
        <aside class="side-pane">
          {node ? <StepPanel node={node} run={run} onDone={report} /> : <Empty>Select a step in the graph to see its attempts, input, output and logs.</Empty>}
        </aside>
      </div>
      <nav class="tabs" role="tablist">
        {(["timeline", "tasks", "data"] as const).map((t) => (
          <button type="button" role="tab" aria-selected={tab === t} class={tab === t ? "active" : ""} onClick={() => setTab(t)}>
            {t === "timeline" ? "Timeline" : t === "tasks" ? `Tasks (${run.tasks.length.toLocaleString("en-US")})` : "Input, output, variables"}
          </button>
        ))}
      </nav>
      {tab === "timeline" ? (
        <Timeline run={run} onSelect={(t) => setSelected(placed.nodes.find((n) => n.instances.some((i) => i.taskId === t.taskId))?.id)} />
      ) : tab === "tasks" ? (
        <TaskTable tasks={run.tasks} onSelect={(t) => setSelected(placed.nodes.find((n) => n.instances.some((i) => i.taskId === t.taskId))?.id)} />
      ) : (
        <div class="data-grid">
          <div>
            <h3>Input</h3>
            <Json value={run.inputJson} />
          </div>
          <div>
            <h3>Output</h3>
            <Json value={run.outputJson} />
          </div>
          <div>
            <h3>Variables</h3>
            <Json value={run.variablesJson} />
          </div>
          <div>
            <h3>Related runs</h3>
            {run.parentWorkflowId ? (
              <p>
                Parent: <a href={runLink(run.parentWorkflowId)} class="mono">{run.parentWorkflowId}</a>
              </p>
            ) : (
              <p class="muted">No parent run.</p>
            )}
            {children.length > 0 ? (
              <ul class="plain">
                {children.map((t) => (
                  <li>
                    {t.referenceTaskName}: <a href={runLink(t.subWorkflowId)} class="mono">{t.subWorkflowId}</a> <Status status={taskStatusName(t.status)} />
                  </li>
                ))}
              </ul>
            ) : (
              <p class="muted">No child runs.</p>
            )}
          </div>
        </div>
      )}
    </section>
  );
}

function Legend() {
  const items: [string, string][] = [
    ["COMPLETED", "completed"],
    ["IN_PROGRESS", "running"],
    ["SCHEDULED", "queued"],
    ["FAILED", "failed"],
    ["PENDING", "not reached"],
    ["NOT_TAKEN", "not taken"],
  ];
  return (
    <div class="legend">
      {items.map(([s, w]) => (
        <span class={`legend-item st-${s.toLowerCase().replace(/_/g, "-")}`}>
          <i />
          {w}
        </span>
      ))}
    </div>
  );
}

/** Virtualised: a 10,000-task run scrolls without drawing 10,000 rows. */
function TaskTable({ tasks, onSelect }: { tasks: Task[]; onSelect: (t: Task) => void }) {
  const [top, setTop] = useState(0);
  const ROW = 30;
  const HEIGHT = 420;
  const first = Math.max(0, Math.floor(top / ROW) - 5);
  const visible = tasks.slice(first, first + Math.ceil(HEIGHT / ROW) + 10);
  return (
    <div class="task-table" style={{ height: `${HEIGHT}px` }} onScroll={(e) => setTop((e.currentTarget as HTMLElement).scrollTop)}>
      <div class="task-row head">
        <span>#</span>
        <span>reference</span>
        <span>type</span>
        <span>status</span>
        <span>worker</span>
        <span>queued</span>
        <span>ran</span>
      </div>
      <div style={{ height: `${tasks.length * ROW}px`, position: "relative" }}>
        {visible.map((t, i) => (
          <div class="task-row" style={{ top: `${(first + i) * ROW}px` }} onClick={() => onSelect(t)} data-task={t.referenceTaskName}>
            <span class="muted">{t.seq}</span>
            <span class="mono">{t.referenceTaskName}</span>
            <span>{t.taskType}</span>
            <span>
              <Status status={taskStatusName(t.status)} />
            </span>
            <span class="mono">{t.workerId || "—"}</span>
            <span>{t.startTimeMs ? duration(Number(t.startTimeMs - t.scheduledTimeMs)) : "—"}</span>
            <span>{t.startTimeMs && t.endTimeMs ? duration(Number(t.endTimeMs - t.startTimeMs)) : "—"}</span>
          </div>
        ))}
      </div>
    </div>
  );
}

function StepPanel({ node, run, onDone }: { node: GraphNode; run: Workflow; onDone: (n: Notice) => void }) {
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
 * TASK_PAYLOAD_LIMIT (a fork's list of 10,000 branches), fetched here when
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

function AttemptsPanel({ title, type, attempts, run, onDone, notTaken }: { title: string; type: string; attempts: Task[]; run: Workflow; onDone: (n: Notice) => void; notTaken: string }) {
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
              <a href={runLink(task.subWorkflowId)} class="mono">{task.subWorkflowId}</a>
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

