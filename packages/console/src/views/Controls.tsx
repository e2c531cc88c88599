// Operating a run: the same RPCs the CLI calls (pause, resume, terminate,
// retry, restart, rerun from a task, skip, complete/fail a waiting task).
// Each asks first; the server's refusal is shown as worded. A reader sees
// them disabled, and the server would refuse anyway.
import { useState } from "preact/hooks";
import { TaskStatus, errorText, workflows, type Task, type Workflow } from "../api.js";
import { Confirm, mayOperate, pretty, taskStatusName, useSession, workflowStatusName } from "../ui.js";

export interface Notice {
  kind: "ok" | "error";
  text: string;
}

type Done = (n: Notice) => void;

async function act(what: string, call: () => Promise<unknown>, onDone: Done): Promise<void> {
  try {
    await call();
    onDone({ kind: "ok", text: `${what}: done` });
  } catch (error) {
    onDone({ kind: "error", text: `${what} refused: ${errorText(error)}` });
  }
}

function ActionButton(props: { label: string; onClick: () => void; danger?: boolean; disabled: boolean; why: string }) {
  return (
    <button
      type="button"
      class={props.danger ? "danger-outline" : "secondary"}
      disabled={props.disabled}
      title={props.disabled ? props.why : ""}
      onClick={props.onClick}
      data-action={props.label}
    >
      {props.label}
    </button>
  );
}

function checkJson(text: string): string | undefined {
  if (!text.trim()) return undefined;
  try {
    const v = JSON.parse(text);
    return v && typeof v === "object" && !Array.isArray(v) ? undefined : "must be a JSON object";
  } catch (e) {
    return `not JSON: ${(e as Error).message}`;
  }
}

export function RunControls({ run, onDone }: { run: Workflow; onDone: Done }) {
  const session = useSession();
  const [dialog, setDialog] = useState<string | undefined>(undefined);
  const [reason, setReason] = useState("");
  const [latest, setLatest] = useState(false);
  const status = workflowStatusName(run.status);
  const allowed = mayOperate(session);
  const why = `your key's role (${session.role}) may not operate runs`;
  const id = run.workflowId;
  const ended = !["RUNNING", "PAUSED"].includes(status);
  return (
    <div class="controls" aria-label="run controls">
      {status === "RUNNING" ? <ActionButton label="Pause" disabled={!allowed} why={why} onClick={() => setDialog("pause")} /> : null}
      {status === "PAUSED" ? <ActionButton label="Resume" disabled={!allowed} why={why} onClick={() => setDialog("resume")} /> : null}
      {["FAILED", "TIMED_OUT", "TERMINATED"].includes(status) ? (
        <ActionButton label="Retry" disabled={!allowed} why={why} onClick={() => setDialog("retry")} />
      ) : null}
      {ended ? <ActionButton label="Restart" disabled={!allowed} why={why} onClick={() => setDialog("restart")} /> : null}
      {!ended ? <ActionButton label="Terminate" danger disabled={!allowed} why={why} onClick={() => setDialog("terminate")} /> : null}
      {dialog === "pause" ? (
        <Confirm
          title="Pause this run?"
          action="Pause"
          onClose={() => setDialog(undefined)}
          onConfirm={() => act("Pause", () => workflows.pauseWorkflow({ workflowId: id }), onDone)}
        >
          <p>No new tasks are scheduled until it is resumed; running tasks finish.</p>
        </Confirm>
      ) : null}
      {dialog === "resume" ? (
        <Confirm
          title="Resume this run?"
          action="Resume"
          onClose={() => setDialog(undefined)}
          onConfirm={() => act("Resume", () => workflows.resumeWorkflow({ workflowId: id }), onDone)}
        />
      ) : null}
      {dialog === "retry" ? (
        <Confirm
          title="Retry this run from its failed task?"
          action="Retry"
          onClose={() => setDialog(undefined)}
          onConfirm={() => act("Retry", () => workflows.retryWorkflow({ workflowId: id }), onDone)}
        >
          <p>The failed task is scheduled again; the run continues from there.</p>
        </Confirm>
      ) : null}
      {dialog === "restart" ? (
        <Confirm
          title="Restart this run from the beginning?"
          action="Restart"
          onClose={() => setDialog(undefined)}
          onConfirm={() => act("Restart", () => workflows.restartWorkflow({ workflowId: id, useLatestDefinition: latest }), onDone)}
        >
          <p>Same run id; every task runs again with the run's input.</p>
          <label class="check">
            <input type="checkbox" checked={latest} onChange={(e) => setLatest((e.target as HTMLInputElement).checked)} /> use the latest version of{" "}
            {run.workflowName}
          </label>
        </Confirm>
      ) : null}
      {dialog === "terminate" ? (
        <Confirm
          title="Terminate this run?"
          action="Terminate"
          danger
          onClose={() => setDialog(undefined)}
          onConfirm={() => act("Terminate", () => workflows.terminateWorkflow({ workflowId: id, reason: reason || "terminated from the console" }), onDone)}
        >
          <label>
            Reason
            <input
              type="text"
              name="reason"
              value={reason}
              placeholder="why (kept on the run)"
              onInput={(e) => setReason((e.target as HTMLInputElement).value)}
            />
          </label>
        </Confirm>
      ) : null}
    </div>
  );
}

const WAITING_TYPES = new Set(["WAIT", "HUMAN"]);

/** Controls on one step: rerun from it, skip it, complete or fail it. */
export function TaskControls({ run, refName, task, onDone }: { run: Workflow; refName: string; task: Task | undefined; onDone: Done }) {
  const session = useSession();
  const [dialog, setDialog] = useState<string | undefined>(undefined);
  const [input, setInput] = useState("");
  const [output, setOutput] = useState("{}");
  const [reason, setReason] = useState("");
  const [problem, setProblem] = useState<string | undefined>(undefined);
  const allowed = mayOperate(session);
  const why = `your key's role (${session.role}) may not operate runs`;
  const status = workflowStatusName(run.status);
  const ended = !["RUNNING", "PAUSED"].includes(status);
  const taskStatus = task ? taskStatusName(task.status) : undefined;
  const open = taskStatus === "SCHEDULED" || taskStatus === "IN_PROGRESS";
  const waiting = task && open && WAITING_TYPES.has(task.taskType);
  const id = run.workflowId;
  return (
    <div class="controls task-controls">
      {waiting || (open && task) ? (
        <>
          <ActionButton label="Complete" disabled={!allowed} why={why} onClick={() => (setOutput("{}"), setProblem(undefined), setDialog("complete"))} />
          <ActionButton label="Fail" danger disabled={!allowed} why={why} onClick={() => (setReason(""), setProblem(undefined), setDialog("fail"))} />
        </>
      ) : null}
      {!ended && (!task || open) ? <ActionButton label="Skip" disabled={!allowed} why={why} onClick={() => setDialog("skip")} /> : null}
      {ended && task ? (
        <ActionButton
          label="Rerun from here"
          disabled={!allowed || task.payloadTrimmed}
          why={allowed ? "the step's input is still loading (the dialog edits it whole)" : why}
          onClick={() => {
            setInput(pretty(task.inputJson));
            setProblem(undefined);
            setDialog("rerun");
          }}
        />
      ) : null}
      {dialog === "complete" || dialog === "fail" ? (
        <Confirm
          title={`${dialog === "complete" ? "Complete" : "Fail"} ${refName}?`}
          action={dialog === "complete" ? "Complete" : "Fail"}
          danger={dialog === "fail"}
          onClose={() => setDialog(undefined)}
          onConfirm={async () => {
            const bad = checkJson(output);
            if (bad) {
              onDone({ kind: "error", text: `output ${bad}` });
              return;
            }
            await act(
              dialog === "complete" ? `Complete ${refName}` : `Fail ${refName}`,
              () =>
                workflows.signalTask({
                  workflowId: id,
                  taskId: task!.taskId,
                  status: dialog === "complete" ? TaskStatus.COMPLETED : TaskStatus.FAILED,
                  outputJson: output.trim() || "{}",
                  reason,
                }),
              onDone,
            );
          }}
        >
          <label>
            Output (JSON object)
            <textarea
              name="output"
              rows={6}
              value={output}
              onInput={(e) => (setOutput((e.target as HTMLTextAreaElement).value), setProblem(checkJson((e.target as HTMLTextAreaElement).value)))}
            />
          </label>
          {problem ? <p class="field-error">output {problem}</p> : null}
          {dialog === "fail" ? (
            <label>
              Reason
              <input type="text" name="reason" value={reason} onInput={(e) => setReason((e.target as HTMLInputElement).value)} />
            </label>
          ) : null}
        </Confirm>
      ) : null}
      {dialog === "skip" ? (
        <Confirm
          title={`Skip ${refName}?`}
          action="Skip"
          onClose={() => setDialog(undefined)}
          onConfirm={() =>
            act(
              `Skip ${refName}`,
              () => workflows.skipTask({ workflowId: id, taskReferenceName: task?.referenceTaskName ?? refName, outputJson: "{}" }),
              onDone,
            )
          }
        >
          <p>The step is marked SKIPPED and the run goes on without it.</p>
        </Confirm>
      ) : null}
      {dialog === "rerun" ? (
        <Confirm
          title={`Rerun from ${refName}?`}
          action="Rerun"
          onClose={() => setDialog(undefined)}
          onConfirm={async () => {
            const bad = checkJson(input);
            if (bad) {
              onDone({ kind: "error", text: `task input ${bad}` });
              return;
            }
            await act(`Rerun from ${refName}`, () => workflows.rerunWorkflow({ workflowId: id, taskId: task!.taskId, taskInputJson: input.trim() }), onDone);
          }}
        >
          <p>Everything after this step is dropped and runs again.</p>
          <label>
            Task input (edit to change it)
            <textarea
              name="input"
              rows={8}
              value={input}
              onInput={(e) => (setInput((e.target as HTMLTextAreaElement).value), setProblem(checkJson((e.target as HTMLTextAreaElement).value)))}
            />
          </label>
          {problem ? <p class="field-error">input {problem}</p> : null}
        </Confirm>
      ) : null}
    </div>
  );
}
