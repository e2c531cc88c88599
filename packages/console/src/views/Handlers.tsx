// Event handlers: the list (event, condition, actions, active) and one
// handler's JSON.
import { useEffect, useState } from "preact/hooks";
import { errorText, events, listEventHandlers } from "../api.js";
import { navigate, type Route } from "../router.js";
import { Empty, ErrorBox } from "../ui.js";

interface Handler {
  name: string;
  event: string;
  condition?: string;
  active?: boolean;
  actions?: { action?: string }[];
}

export function HandlersPage({ route }: { route: Route }) {
  const open = route.path[1];
  const [handlers, setHandlers] = useState<{ parsed: Handler; json: string }[] | undefined>(undefined);
  const [one, setOne] = useState<string | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  useEffect(() => {
    listEventHandlers().then(
      (handlerJson) => setHandlers(handlerJson.map((json) => ({ json, parsed: JSON.parse(json) as Handler }))),
      (e) => setError(errorText(e)),
    );
  }, []);
  useEffect(() => {
    setOne(undefined);
    if (open) events.getEventHandler({ name: open }).then((r) => setOne(r.handlerJson), (e) => setError(errorText(e)));
  }, [open]);
  return (
    <section class="page">
      <h1>Event handlers</h1>
      {error ? <ErrorBox message={error} /> : null}
      {!handlers ? (
        <p class="muted">Loading…</p>
      ) : handlers.length === 0 ? (
        <Empty>No event handlers (register one with `baton handlers register`).</Empty>
      ) : (
        <table class="runs">
          <thead>
            <tr>
              <th>Name</th>
              <th>Event</th>
              <th>Condition</th>
              <th>Actions</th>
              <th>Active</th>
            </tr>
          </thead>
          <tbody>
            {handlers.map(({ parsed: h }) => (
              <tr data-handler={h.name} class={open === h.name ? "selected" : ""}>
                <td>
                  <a href={`/handlers/${encodeURIComponent(h.name)}`}>{h.name}</a>
                </td>
                <td class="mono">{h.event}</td>
                <td class="mono">{h.condition || <span class="muted">—</span>}</td>
                <td>{(h.actions ?? []).map((a) => a.action).join(", ")}</td>
                <td>{h.active === false ? <span class="muted">inactive</span> : "active"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {open ? (
        <div class="panel">
          <h2>
            {open}{" "}
            <button type="button" class="ghost small" onClick={() => navigate("/handlers")}>
              close
            </button>
          </h2>
          {one ? <pre class="json">{JSON.stringify(JSON.parse(one), null, 2)}</pre> : <p class="muted">Loading…</p>}
        </div>
      ) : null}
    </section>
  );
}
