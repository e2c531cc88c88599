// Small pieces every view uses: status badges, JSON, times, a confirmation
// dialog, and the caller's session (what the role allows).
import type { ComponentChildren } from "preact";
import { createContext } from "preact";
import { useContext, useEffect, useRef, useState } from "preact/hooks";
import { TaskStatus, WorkflowStatus } from "./api.js";

export const workflowStatusName = (s: WorkflowStatus) => WorkflowStatus[s] ?? "UNKNOWN";
export const taskStatusName = (s: TaskStatus) => TaskStatus[s] ?? "UNKNOWN";

/** The CSS class of a status (runs, tasks, graph nodes). */
export function statusClass(status: string): string {
  return `st-${status.toLowerCase().replace(/_/g, "-")}`;
}

const WORDS: Record<string, string> = {
  NOT_TAKEN: "not taken",
  PENDING: "not reached",
  IN_PROGRESS: "running",
  FAILED_WITH_TERMINAL_ERROR: "failed (terminal)",
  COMPLETED_WITH_ERRORS: "completed with errors",
  TIMED_OUT: "timed out",
  DEFINED: "",
  UNCHANGED: "",
};

export function statusWord(status: string): string {
  return WORDS[status] ?? status.toLowerCase().replace(/_/g, " ");
}

export function Status({ status }: { status: string }) {
  return (
    <span class={`badge ${statusClass(status)}`} data-status={status}>
      {statusWord(status)}
    </span>
  );
}

export function time(ms: bigint | number): string {
  const n = Number(ms);
  if (!n) return "—";
  const d = new Date(n);
  const pad = (x: number, w = 2) => String(x).padStart(w, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

export function duration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)} m ${Math.round((ms % 60_000) / 1000)} s`;
  return `${Math.floor(ms / 3_600_000)} h ${Math.round((ms % 3_600_000) / 60_000)} m`;
}

export function pretty(json: string): string {
  if (!json) return "";
  try {
    return JSON.stringify(JSON.parse(json), null, 2);
  } catch {
    return json;
  }
}

export function Json({ value, empty = "—" }: { value: string; empty?: string }) {
  const text = pretty(value);
  if (!text || text === "{}") return <span class="muted">{empty === "—" && text === "{}" ? "{}" : empty}</span>;
  return <pre class="json">{text}</pre>;
}

export function ErrorBox({ message }: { message: string }) {
  return (
    <div class="error" role="alert">
      {message}
    </div>
  );
}

export interface Session {
  authRequired: boolean;
  role: string;
  keyId: string;
  name: string;
}

export const SessionContext = createContext<Session>({ authRequired: false, role: "admin", keyId: "anonymous", name: "" });

export function useSession(): Session {
  return useContext(SessionContext);
}

/** Whether the caller's role may operate runs (the server checks again). */
export function mayOperate(session: Session): boolean {
  return session.role === "operator" || session.role === "admin";
}

/** A modal that asks before acting; `children` holds the form fields. */
export function Confirm(props: {
  title: string;
  action: string;
  danger?: boolean;
  children?: ComponentChildren;
  onConfirm: () => Promise<void> | void;
  onClose: () => void;
}) {
  const [busy, setBusy] = useState(false);
  const dialog = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    dialog.current?.showModal();
  }, []);
  return (
    <dialog ref={dialog} class="confirm" onCancel={props.onClose} aria-label={props.title}>
      <form
        method="dialog"
        onSubmit={async (e) => {
          e.preventDefault();
          setBusy(true);
          try {
            await props.onConfirm();
          } finally {
            setBusy(false);
            props.onClose();
          }
        }}
      >
        <h3>{props.title}</h3>
        {props.children}
        <div class="actions">
          <button type="button" class="ghost" onClick={props.onClose}>
            Cancel
          </button>
          <button type="submit" class={props.danger ? "danger" : "primary"} disabled={busy}>
            {props.action}
          </button>
        </div>
      </form>
    </dialog>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <div class="empty">{children}</div>;
}
