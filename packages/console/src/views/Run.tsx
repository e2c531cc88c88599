// One run: its graph (the path taken, steps not taken greyed, loops with an
// iteration picker, dynamic forks grouped), a timeline of every attempt, the
// selected step (StepPanel.tsx), the run's data and its controls. Live: a
// long poll (WatchWorkflow) answers the moment the run moves.
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { Code, errorCode, errorText, workflows, type Task, type Workflow } from "../api.js";
import { GraphView } from "../graph/GraphView.js";
import { layout as layoutGraph, type PlacedNode } from "../graph/layout.js";
import { buildGraph, type WorkflowDefJson } from "../graph/model.js";
import { defLink, runLink } from "../router.js";
import { Empty, ErrorBox, Json, Status, duration, taskStatusName, time, workflowStatusName } from "../ui.js";
import { RunControls, type Notice } from "./Controls.js";
import { StepPanel } from "./StepPanel.js";
import { Timeline } from "./Timeline.js";
import { UnservedNotice, useUnservedTypes } from "./Unserved.js";

/** How long one watch call waits for a change before asking again. */
const WATCH_MS = 25_000;
/** Task inputs and outputs longer than this come with the run only when the task is opened (StepPanel.tsx). */
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
  const unserved = useUnservedTypes(run, loaded?.state ?? "");

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
  if (!run || !placed)
    return (
      <section class="page">
        <p class="muted">Loading run {id}…</p>
      </section>
    );

  const children = run.tasks.filter((t) => t.subWorkflowId);
  return (
    <section class="page run-page">
      <header class="run-head">
        <div>
          <div class="crumbs">
            <a href="/runs">Runs</a> /{" "}
            <a href={defLink(run.workflowName, run.workflowVersion)}>
              {run.workflowName} v{run.workflowVersion}
            </a>
          </div>
          <h1>
            {run.workflowName} <Status status={status} />
          </h1>
          <div class="meta">
            <span title="run id" class="mono">
              {run.workflowId}
            </span>
            {run.correlationId ? (
              <span>
                correlation <span class="mono">{run.correlationId}</span>
              </span>
            ) : null}
            <span>started {time(run.createTimeMs)}</span>
            <span>
              {run.endTimeMs ? `took ${duration(Number(run.endTimeMs - run.createTimeMs))}` : `running for ${duration(Date.now() - Number(run.createTimeMs))}`}
            </span>
            {run.parentWorkflowId ? (
              <span>
                parent{" "}
                <a href={runLink(run.parentWorkflowId)} class="mono">
                  {run.parentWorkflowId.slice(0, 8)}
                </a>
              </span>
            ) : null}
            <span class="live" title="updates as the run moves">
              ● live
            </span>
          </div>
          {run.reasonForIncompletion ? <div class="reason">{run.reasonForIncompletion}</div> : null}
          <UnservedNotice types={unserved} />
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
            focus={whereItIs(placed.nodes)}
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
                Parent:{" "}
                <a href={runLink(run.parentWorkflowId)} class="mono">
                  {run.parentWorkflowId}
                </a>
              </p>
            ) : (
              <p class="muted">No parent run.</p>
            )}
            {children.length > 0 ? (
              <ul class="plain">
                {children.map((t) => (
                  <li>
                    {t.referenceTaskName}:{" "}
                    <a href={runLink(t.subWorkflowId)} class="mono">
                      {t.subWorkflowId}
                    </a>{" "}
                    <Status status={taskStatusName(t.status)} />
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

/** Where a run is, for its first view: its first step running, queued or failed (the latest attempt's state). */
function whereItIs(nodes: PlacedNode[]): string | undefined {
  const at = (states: string[]) =>
    [...nodes].sort((a, b) => a.y - b.y).find((n) => (n.kind === "task" || n.kind === "dynamic") && states.includes(n.state))?.id;
  return at(["IN_PROGRESS", "SCHEDULED"]) ?? at(["FAILED", "FAILED_WITH_TERMINAL_ERROR", "TIMED_OUT"]);
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
