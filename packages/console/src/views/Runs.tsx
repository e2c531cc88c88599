// The runs list: filters (name, version, status, correlation id, run id,
// start window) kept in the address bar, sorted by a column's header (start,
// end, workflow name, status; either way), keyset pages in that order,
// counts per status, and live: a long poll (WatchWorkflows) says when any run
// moved, and the page is read again (at most once a second).
import { useEffect, useRef, useState } from "preact/hooks";
import { Code, WorkflowStatus, errorCode, errorText, listWorkflowDefs, workflows, type Workflow } from "../api.js";
import { RUN_ORDERS, isRunOrderName, type RunOrderName } from "../../../protocol/src/run-orders.js";
import { navigate, runLink, type Route } from "../router.js";
import { Empty, ErrorBox, Status, duration, time, workflowStatusName } from "../ui.js";

const STATUSES = ["RUNNING", "PAUSED", "COMPLETED", "FAILED", "TIMED_OUT", "TERMINATED"] as const;
const PAGE = 50;

type Order = RunOrderName;
type Column = "start" | "end" | "name" | "status";
/** A header's first click: times newest first, names and statuses A to Z. */
const FIRST: Record<Column, Order> = { start: "start-desc", end: "end-desc", name: "name-asc", status: "status-asc" };

function orderOf(text: string | null): Order {
  if (text === "oldest") return "start-asc"; // links from before the other orders
  return text && isRunOrderName(text) ? text : "start-desc";
}

/** The order after clicking `column`'s header: the other way round when it already sorts, else its first order. */
function clicked(order: Order, column: Column): Order {
  if (!order.startsWith(`${column}-`)) return FIRST[column];
  return `${column}-${order.endsWith("-asc") ? "desc" : "asc"}` as Order;
}

interface Filters {
  name: string;
  version: string;
  status: string[];
  correlation: string;
  run: string;
  from: string;
  to: string;
  order: Order;
}

function filtersOf(q: URLSearchParams): Filters {
  return {
    name: q.get("name") ?? "",
    version: q.get("version") ?? "",
    status: (q.get("status") ?? "").split(",").filter(Boolean),
    correlation: q.get("correlation") ?? "",
    run: q.get("run") ?? "",
    from: q.get("from") ?? "",
    to: q.get("to") ?? "",
    order: orderOf(q.get("order")),
  };
}

function queryOf(f: Filters): string {
  const q = new URLSearchParams();
  if (f.name) q.set("name", f.name);
  if (f.version) q.set("version", f.version);
  if (f.status.length) q.set("status", f.status.join(","));
  if (f.correlation) q.set("correlation", f.correlation);
  if (f.run) q.set("run", f.run);
  if (f.from) q.set("from", f.from);
  if (f.to) q.set("to", f.to);
  if (f.order !== "start-desc") q.set("order", f.order);
  const s = q.toString();
  return s ? `?${s}` : "";
}

/** datetime-local text (the browser's local time) to ms since the epoch; 0 when empty. */
function ms(local: string): bigint {
  if (!local) return 0n;
  const t = new Date(local).getTime();
  return BigInt(Number.isFinite(t) ? t : -1);
}

/** What the form's own checks refuse before asking the server: text that cannot be sent as the field's type. */
function localProblem(f: Filters): { field: keyof Filters; text: string } | undefined {
  if (f.version && !/^\d+$/.test(f.version.trim()))
    return { field: "version", text: `Version: ${JSON.stringify(f.version)} is not a version number (1, 2, …)` };
  for (const [field, label] of [
    ["from", "Started from"],
    ["to", "to"],
  ] as const) {
    if (f[field] && !Number.isFinite(new Date(f[field]).getTime())) return { field, text: `${label}: ${JSON.stringify(f[field])} is not a date and time` };
  }
  return undefined;
}

/** The form field a server refusal names (its message names the request's field). */
const FIELD_OF: [RegExp, keyof Filters][] = [
  [/\bstart_time_from_ms\b/, "from"],
  [/\bstart_time_to_ms\b/, "to"],
  [/\bversion\b/, "version"],
  [/\bworkflow_id\b/, "run"],
  [/\bcorrelation_id\b/, "correlation"],
];

function request(f: Filters) {
  return {
    name: f.name.trim(),
    ...(f.version ? { version: Number(f.version) } : {}),
    correlationId: f.correlation.trim(),
    startTimeFromMs: ms(f.from),
    startTimeToMs: ms(f.to),
  };
}

export function RunsPage({ route }: { route: Route }) {
  const filters = filtersOf(route.query);
  const [draft, setDraft] = useState(filters);
  const [rows, setRows] = useState<Workflow[] | undefined>(undefined);
  const [counts, setCounts] = useState<Map<string, { n: number; capped: boolean }>>(new Map());
  const [error, setError] = useState<{ text: string; field?: keyof Filters | undefined; refused?: boolean } | undefined>(undefined);
  const [pages, setPages] = useState<string[]>([""]);
  const [next, setNext] = useState("");
  const [names, setNames] = useState<string[]>([]);
  const [tick, setTick] = useState(0);
  const key = queryOf(filters);
  const token = pages[pages.length - 1] ?? "";
  const last = useRef(0);

  useEffect(() => setDraft(filtersOf(route.query)), [key]);
  useEffect(() => setPages([""]), [key]);
  useEffect(() => {
    listWorkflowDefs({}).then(
      (definitions) => setNames([...new Set(definitions.map((d) => d.name))].sort()),
      () => {},
    );
  }, []);

  // Read the page and the counts.
  useEffect(() => {
    let live = true;
    const problem = localProblem(filters);
    if (problem) {
      setError({ ...problem, refused: true });
      setRows([]);
      setCounts(new Map());
      return;
    }
    const req = request(filters);
    Promise.all([
      workflows.searchWorkflows({
        ...req,
        statuses: filters.status.map((s) => WorkflowStatus[s as keyof typeof WorkflowStatus]).filter((s) => s !== undefined),
        workflowId: filters.run.trim(),
        pageSize: PAGE,
        pageToken: token,
        order: RUN_ORDERS[filters.order],
      }),
      workflows.countWorkflows(req),
    ]).then(
      ([page, count]) => {
        if (!live) return;
        setError(undefined);
        setRows(page.workflows);
        setNext(page.nextPageToken);
        setCounts(new Map(count.counts.map((c) => [workflowStatusName(c.status), { n: Number(c.count), capped: c.capped }])));
      },
      (e) => {
        if (!live) return;
        const text = errorText(e);
        const refused = errorCode(e) === Code.InvalidArgument;
        setError({ text, refused, field: refused ? FIELD_OF.find(([re]) => re.test(text))?.[1] : undefined });
        setRows([]);
      },
    );
    return () => {
      live = false;
    };
  }, [key, token, tick]);

  // Live: wait for any run to move, then read again (no more than once a second).
  useEffect(() => {
    const abort = new AbortController();
    (async () => {
      while (!abort.signal.aborted) {
        try {
          const r = await workflows.watchWorkflows({ waitMs: 25_000n }, { signal: abort.signal, timeoutMs: 35_000 });
          if (r.changed) {
            const wait = Math.max(0, last.current + 1000 - Date.now());
            if (wait) await new Promise((res) => setTimeout(res, wait));
            last.current = Date.now();
            setTick((t) => t + 1);
          }
        } catch {
          if (abort.signal.aborted) return;
          await new Promise((res) => setTimeout(res, 5000));
        }
      }
    })();
    return () => abort.abort();
  }, []);

  const apply = (f: Filters) => navigate(`/runs${queryOf(f)}`);
  const sortBy = (column: Column) => apply({ ...filters, order: clicked(filters.order, column) });
  const toggleStatus = (s: string) =>
    apply({ ...filters, status: filters.status.includes(s) ? filters.status.filter((x) => x !== s) : [...filters.status, s] });

  return (
    <section class="page">
      <h1>Runs</h1>
      <div class="status-counts" aria-label="runs per status">
        {STATUSES.map((s) => {
          const c = counts.get(s);
          return (
            <button type="button" class={`count-card ${filters.status.includes(s) ? "active" : ""}`} onClick={() => toggleStatus(s)} data-count={s}>
              <Status status={s} />
              <strong>{c ? `${c.n.toLocaleString("en-US")}${c.capped ? "+" : ""}` : error ? "—" : "…"}</strong>
            </button>
          );
        })}
      </div>
      <form
        class="filters"
        onSubmit={(e) => {
          e.preventDefault();
          apply(draft);
        }}
      >
        <label>
          Workflow
          <input
            name="name"
            aria-invalid={error?.field === "name"}
            list="workflow-names"
            value={draft.name}
            placeholder="any"
            onInput={(e) => setDraft({ ...draft, name: (e.target as HTMLInputElement).value })}
          />
          <datalist id="workflow-names">
            {names.map((n) => (
              <option value={n} />
            ))}
          </datalist>
        </label>
        <label class="narrow">
          Version
          <input
            name="version"
            aria-invalid={error?.field === "version"}
            type="number"
            value={draft.version}
            placeholder="any"
            onInput={(e) => setDraft({ ...draft, version: (e.target as HTMLInputElement).value })}
          />
        </label>
        <label>
          Correlation id
          <input
            name="correlation"
            aria-invalid={error?.field === "correlation"}
            value={draft.correlation}
            placeholder="any"
            onInput={(e) => setDraft({ ...draft, correlation: (e.target as HTMLInputElement).value })}
          />
        </label>
        <label>
          Run id
          <input
            name="run"
            aria-invalid={error?.field === "run"}
            value={draft.run}
            placeholder="any"
            onInput={(e) => setDraft({ ...draft, run: (e.target as HTMLInputElement).value })}
          />
        </label>
        <label>
          Started from
          <input
            name="from"
            aria-invalid={error?.field === "from"}
            type="datetime-local"
            step="1"
            value={draft.from}
            onInput={(e) => setDraft({ ...draft, from: (e.target as HTMLInputElement).value })}
          />
        </label>
        <label>
          to
          <input
            name="to"
            aria-invalid={error?.field === "to"}
            type="datetime-local"
            step="1"
            value={draft.to}
            onInput={(e) => setDraft({ ...draft, to: (e.target as HTMLInputElement).value })}
          />
        </label>
        <div class="filter-actions">
          <button type="submit" class="primary">
            Search
          </button>
          <button
            type="button"
            class="ghost"
            onClick={() => apply({ name: "", version: "", status: [], correlation: "", run: "", from: "", to: "", order: "start-desc" })}
          >
            Clear
          </button>
        </div>
      </form>
      {error ? <ErrorBox message={error.refused ? `Filter refused: ${error.text}` : error.text} /> : null}
      {!rows ? (
        <p class="muted">Loading…</p>
      ) : rows.length === 0 && !error ? (
        <Empty>No runs match.</Empty>
      ) : rows.length > 0 ? (
        <table class="runs">
          <thead>
            <tr>
              <SortHeader column="name" label="Workflow" title="name" order={filters.order} sort={sortBy} />
              <SortHeader column="status" label="Status" title="status" order={filters.order} sort={sortBy} />
              <th>Run id</th>
              <th>Correlation id</th>
              <SortHeader column="start" label="Started" title="start time" order={filters.order} sort={sortBy} />
              <SortHeader column="end" label="Ended" title="end time" order={filters.order} sort={sortBy} />
              <th>Duration</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr data-run={r.workflowId}>
                <td>
                  <a href={runLink(r.workflowId)}>{r.workflowName}</a> <span class="muted">v{r.workflowVersion}</span>
                </td>
                <td>
                  <Status status={workflowStatusName(r.status)} />
                </td>
                <td class="mono">
                  <a href={runLink(r.workflowId)}>{r.workflowId}</a>
                </td>
                <td class="mono">{r.correlationId || <span class="muted">—</span>}</td>
                <td>{time(r.createTimeMs)}</td>
                <td>{r.endTimeMs ? time(r.endTimeMs) : <span class="muted">—</span>}</td>
                <td>{r.endTimeMs ? duration(Number(r.endTimeMs - r.createTimeMs)) : <span class="muted">running</span>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      <div class="pager">
        <button type="button" class="ghost" disabled={pages.length <= 1} onClick={() => setPages(pages.slice(0, -1))}>
          ← Previous
        </button>
        <span class="muted">page {pages.length}</span>
        <button type="button" class="ghost" disabled={!next} onClick={() => setPages([...pages, next])}>
          Next →
        </button>
      </div>
    </section>
  );
}

/** A column header that sorts the list by its column; the arrow and aria-sort say how it sorts now. */
function SortHeader(props: { column: Column; label: string; title: string; order: Order; sort: (column: Column) => void }) {
  const { column, order } = props;
  const on = order.startsWith(`${column}-`);
  const ascending = order.endsWith("-asc");
  return (
    <th aria-sort={on ? (ascending ? "ascending" : "descending") : "none"}>
      <button type="button" class={`sort ${on ? "on" : ""}`} onClick={() => props.sort(column)} aria-label={`sort by ${props.title}`}>
        {props.label} {on ? (ascending ? "↑" : "↓") : ""}
      </button>
    </th>
  );
}
