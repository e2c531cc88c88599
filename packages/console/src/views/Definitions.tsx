// Definitions: every workflow (all versions), one version's graph and JSON,
// a diff of two versions (the JSON line by line, and the two graphs with
// steps added, removed and changed marked), and the task definitions.
import { diffLines } from "diff";
import { useEffect, useMemo, useState } from "preact/hooks";
import { errorText, listTaskDefs, listWorkflowDefs, metadata } from "../api.js";
import { GraphView } from "../graph/GraphView.js";
import { layout as layoutGraph, type PlacedNode } from "../graph/layout.js";
import { buildGraph, type RunGraph, type WorkflowDefJson } from "../graph/model.js";
import { defLink, navigate, type Route } from "../router.js";
import { Empty, ErrorBox, time } from "../ui.js";

interface Summary {
  name: string;
  version: number;
  description: string;
  createTimeMs: bigint;
}

export function DefinitionsPage({ route }: { route: Route }) {
  const name = route.path[1];
  return name ? <Definition name={name} route={route} /> : <DefinitionList />;
}

function DefinitionList() {
  const [defs, setDefs] = useState<Summary[] | undefined>(undefined);
  const [taskDefs, setTaskDefs] = useState<Record<string, unknown>[] | undefined>(undefined);
  const [open, setOpen] = useState<string | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  useEffect(() => {
    listWorkflowDefs({ allVersions: true }).then(
      (definitions) => setDefs(definitions),
      (e) => setError(errorText(e)),
    );
    listTaskDefs().then(
      (json) => setTaskDefs(json.map((j) => JSON.parse(j) as Record<string, unknown>)),
      (e) => setError(errorText(e)),
    );
  }, []);
  const byName = new Map<string, Summary[]>();
  for (const d of defs ?? []) byName.set(d.name, [...(byName.get(d.name) ?? []), d]);
  return (
    <section class="page">
      <h1>Definitions</h1>
      {error ? <ErrorBox message={error} /> : null}
      <h2>Workflows</h2>
      {!defs ? (
        <p class="muted">Loading…</p>
      ) : defs.length === 0 ? (
        <Empty>No workflow definitions yet (publish some with `baton publish`).</Empty>
      ) : (
        <table class="runs">
          <thead>
            <tr>
              <th>Name</th>
              <th>Latest</th>
              <th>Versions</th>
              <th>Description</th>
              <th>Registered</th>
            </tr>
          </thead>
          <tbody>
            {[...byName.entries()]
              .sort(([a], [b]) => a.localeCompare(b))
              .map(([n, versions]) => {
                const latest = versions.reduce((a, b) => (b.version > a.version ? b : a));
                return (
                  <tr data-def={n}>
                    <td>
                      <a href={defLink(n)}>{n}</a>
                    </td>
                    <td>v{latest.version}</td>
                    <td>{versions.length}</td>
                    <td class="muted">{latest.description}</td>
                    <td>{time(latest.createTimeMs)}</td>
                  </tr>
                );
              })}
          </tbody>
        </table>
      )}
      <h2>Task definitions</h2>
      {!taskDefs ? (
        <p class="muted">Loading…</p>
      ) : taskDefs.length === 0 ? (
        <Empty>No task definitions.</Empty>
      ) : (
        <table class="runs">
          <thead>
            <tr>
              <th>Name</th>
              <th>Retries</th>
              <th>Timeout</th>
              <th>Response timeout</th>
              <th>Concurrency limit</th>
              <th>Rate limit</th>
            </tr>
          </thead>
          <tbody>
            {taskDefs.map((t) => {
              const n = String(t["name"]);
              return (
                <>
                  <tr data-taskdef={n}>
                    <td>
                      <button type="button" class="link" onClick={() => setOpen(open === n ? undefined : n)}>
                        {n}
                      </button>
                    </td>
                    <td>
                      {String(t["retryCount"] ?? 0)} {t["retryLogic"] ? <span class="muted">({String(t["retryLogic"])})</span> : null}
                    </td>
                    <td>{t["timeoutSeconds"] ? `${String(t["timeoutSeconds"])} s` : "—"}</td>
                    <td>{t["responseTimeoutSeconds"] ? `${String(t["responseTimeoutSeconds"])} s` : "—"}</td>
                    <td>{t["concurrentExecLimit"] ? String(t["concurrentExecLimit"]) : "—"}</td>
                    <td>{t["rateLimitPerFrequency"] ? `${String(t["rateLimitPerFrequency"])} per ${String(t["rateLimitFrequencyInSeconds"] ?? 1)} s` : "—"}</td>
                  </tr>
                  {open === n ? (
                    <tr>
                      <td colSpan={6}>
                        <pre class="json">{JSON.stringify(t, null, 2)}</pre>
                      </td>
                    </tr>
                  ) : null}
                </>
              );
            })}
          </tbody>
        </table>
      )}
    </section>
  );
}

function parse(json: string): WorkflowDefJson {
  try {
    return JSON.parse(json) as WorkflowDefJson;
  } catch {
    return {};
  }
}

/** Each step's JSON by reference name (nested steps included), to compare versions. */
function stepsOf(def: WorkflowDefJson): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (list: unknown) => {
    if (!Array.isArray(list)) return;
    for (const t of list as Record<string, unknown>[]) {
      const { forkTasks, decisionCases, defaultCase, loopOver, ...own } = t;
      out.set(String(t["taskReferenceName"]), JSON.stringify(own));
      (forkTasks as unknown[] | undefined)?.forEach(walk);
      Object.values((decisionCases as Record<string, unknown>) ?? {}).forEach(walk);
      walk(defaultCase);
      walk(loopOver);
    }
  };
  walk(def.tasks);
  return out;
}

/** The definition's graph with each step marked against the other version. */
function marked(def: WorkflowDefJson, other: WorkflowDefJson | undefined, side: "old" | "new"): RunGraph {
  const graph = buildGraph(def, [], "RUNNING");
  if (!other) {
    // A definition alone: no status to show.
    for (const node of graph.nodes) if (node.kind === "task" || node.kind === "dynamic") node.state = "DEFINED";
    return graph;
  }
  const mine = stepsOf(def);
  const theirs = stepsOf(other);
  for (const node of graph.nodes) {
    if (node.kind !== "task" && node.kind !== "dynamic") continue;
    const a = mine.get(node.ref);
    const b = theirs.get(node.ref);
    node.state = b === undefined ? (side === "new" ? "ADDED" : "REMOVED") : a !== b ? "CHANGED" : "UNCHANGED";
  }
  return graph;
}

interface Changes {
  added: string[];
  removed: string[];
  changed: string[];
  /** The first changed step drawn in each graph, for its first view. */
  focusBefore?: string | undefined;
  focusNow?: string | undefined;
}

/** What a diff changed, by step reference, in drawing order. */
function changesOf(before: PlacedNode[], now: PlacedNode[]): Changes {
  const refs = (nodes: PlacedNode[], state: string) => nodes.filter((n) => n.state === state).map((n) => n.ref);
  const first = (nodes: PlacedNode[]) =>
    [...nodes].sort((a, b) => a.y - b.y).find((n) => n.state === "ADDED" || n.state === "REMOVED" || n.state === "CHANGED")?.id;
  return { added: refs(now, "ADDED"), removed: refs(before, "REMOVED"), changed: refs(now, "CHANGED"), focusBefore: first(before), focusNow: first(now) };
}

function ChangeSummary({ changes, from, to }: { changes: Changes; from: number; to: number }) {
  const parts = (
    [
      ["added", changes.added],
      ["removed", changes.removed],
      ["changed", changes.changed],
    ] as const
  ).filter(([, refs]) => refs.length > 0);
  return (
    <p class="diff-summary" data-diff-summary>
      v{from} → v{to}:{" "}
      {parts.length === 0
        ? "the same steps (see JSON for other fields)"
        : parts.map(([word, refs], i) => (
            <span class={`st-${word}`}>
              {i > 0 ? "; " : ""}
              {word} <span class="mono">{refs.join(", ")}</span>
            </span>
          ))}
    </p>
  );
}

function Definition({ name, route }: { name: string; route: Route }) {
  const [versions, setVersions] = useState<Summary[] | undefined>(undefined);
  const [json, setJson] = useState<Record<number, string>>({});
  const [error, setError] = useState<string | undefined>(undefined);
  const version = Number(route.query.get("version")) || undefined;
  const against = Number(route.query.get("diff")) || undefined;
  const [view, setView] = useState<"graph" | "json">("graph");
  useEffect(() => {
    listWorkflowDefs({ allVersions: true, name }).then(
      (definitions) => setVersions(definitions.filter((d) => d.name === name).sort((a, b) => b.version - a.version)),
      (e) => setError(errorText(e)),
    );
  }, [name]);
  const shown = version ?? versions?.[0]?.version;
  useEffect(() => {
    for (const v of [shown, against]) {
      if (v === undefined || json[v] !== undefined) continue;
      metadata.getWorkflowDef({ name, version: v }).then(
        (r) => setJson((j) => ({ ...j, [v]: r.definitionJson })),
        (e) => setError(errorText(e)),
      );
    }
  }, [name, shown, against]);
  const current = shown !== undefined ? json[shown] : undefined;
  const old = against !== undefined ? json[against] : undefined;
  const graphs = useMemo(() => {
    if (!current) return undefined;
    const now = parse(current);
    const before = old ? parse(old) : undefined;
    const placed = { now: layoutGraph(marked(now, before, "new")), before: before ? layoutGraph(marked(before, now, "old")) : undefined };
    return { ...placed, changes: changesOf(placed.before?.nodes ?? [], placed.now.nodes) };
  }, [current, old]);
  const go = (v: number | undefined, d: number | undefined) => navigate(`${defLink(name)}${v ? `?version=${v}` : ""}${d ? `${v ? "&" : "?"}diff=${d}` : ""}`);
  if (error)
    return (
      <section class="page">
        <h1>{name}</h1>
        <ErrorBox message={error} />
      </section>
    );
  if (versions && versions.length === 0) {
    return (
      <section class="page">
        <h1>{name}</h1>
        <div class="not-found" role="alert">
          <strong>Not found.</strong> No workflow definition named {name}. <a href="/definitions">All definitions</a>
        </div>
      </section>
    );
  }
  return (
    <section class="page">
      <div class="crumbs">
        <a href="/definitions">Definitions</a> / {name}
      </div>
      <h1>{name}</h1>
      <div class="def-bar">
        <label>
          Version{" "}
          <select value={String(shown ?? "")} onChange={(e) => go(Number((e.target as HTMLSelectElement).value), against)} aria-label="version">
            {(versions ?? []).map((v) => (
              <option value={String(v.version)}>
                v{v.version} — {time(v.createTimeMs)}
              </option>
            ))}
          </select>
        </label>
        <label>
          Compare with{" "}
          <select
            value={String(against ?? "")}
            onChange={(e) => go(shown, Number((e.target as HTMLSelectElement).value) || undefined)}
            aria-label="compare with version"
          >
            <option value="">—</option>
            {(versions ?? [])
              .filter((v) => v.version !== shown)
              .map((v) => (
                <option value={String(v.version)}>v{v.version}</option>
              ))}
          </select>
        </label>
        <div class="seg-buttons">
          <button type="button" class={view === "graph" ? "active" : ""} onClick={() => setView("graph")}>
            Graph
          </button>
          <button type="button" class={view === "json" ? "active" : ""} onClick={() => setView("json")}>
            JSON
          </button>
        </div>
        <a href={`/runs?name=${encodeURIComponent(name)}${shown ? `&version=${shown}` : ""}`}>Runs of this version →</a>
      </div>
      {!current || !graphs ? (
        <p class="muted">Loading…</p>
      ) : view === "graph" ? (
        graphs.before ? (
          <>
            <ChangeSummary changes={graphs.changes} from={against!} to={shown!} />
            <div class="diff-graphs">
              <div>
                <h3>v{against} (before)</h3>
                <div class="graph-pane short">
                  <GraphView layout={graphs.before} fitKey={`${name}:${against}:${shown}:b`} focus={graphs.changes.focusBefore} />
                </div>
              </div>
              <div>
                <h3>v{shown}</h3>
                <div class="graph-pane short">
                  <GraphView layout={graphs.now} fitKey={`${name}:${against}:${shown}:a`} focus={graphs.changes.focusNow} />
                </div>
              </div>
              <div class="legend diff-legend">
                <span class="legend-item st-added">
                  <i />
                  added
                </span>
                <span class="legend-item st-removed">
                  <i />
                  removed
                </span>
                <span class="legend-item st-changed">
                  <i />
                  changed
                </span>
              </div>
            </div>
          </>
        ) : (
          <div class="graph-pane">
            <GraphView layout={graphs.now} fitKey={`${name}:${shown}`} />
          </div>
        )
      ) : old ? (
        <pre class="json diff" aria-label="JSON diff">
          {diffLines(JSON.stringify(JSON.parse(old), null, 2) + "\n", JSON.stringify(JSON.parse(current), null, 2) + "\n").map((part) => (
            <span class={part.added ? "add" : part.removed ? "del" : ""}>
              {part.value
                .replace(/\n$/, "")
                .split("\n")
                .map((l) => `${part.added ? "+ " : part.removed ? "- " : "  "}${l}`)
                .join("\n") + "\n"}
            </span>
          ))}
        </pre>
      ) : (
        <pre class="json">{JSON.stringify(JSON.parse(current), null, 2)}</pre>
      )}
    </section>
  );
}
