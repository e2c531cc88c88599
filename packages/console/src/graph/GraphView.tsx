// Draws a laid-out graph as SVG: nodes coloured by their latest attempt's
// status, steps not taken greyed, the taken path drawn solid, loop frames with
// an iteration picker, dynamic fork groups with per-status counts. Drag to
// pan, wheel to zoom, "fit" to see it all.
import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import { runLink } from "../router.js";
import { statusClass, statusWord } from "../ui.js";
import type { Layout, PlacedEdge, PlacedFrame, PlacedNode } from "./layout.js";

interface Props {
  layout: Layout;
  selected?: string | undefined;
  onSelect?: (node: PlacedNode) => void;
  onIteration?: (loopRef: string, iteration: number) => void;
  /** Sub-workflow steps link to their child run. */
  childRunOf?: (node: PlacedNode) => string | undefined;
  /** Redraws keep the view where the user put it; a new key fits again. */
  fitKey: string;
  /** The node the first view shows when the whole graph is not readable at once (where a run is, a diff's first change). */
  focus?: string | undefined;
}

const COUNT_ORDER = [
  "COMPLETED",
  "IN_PROGRESS",
  "SCHEDULED",
  "FAILED",
  "FAILED_WITH_TERMINAL_ERROR",
  "TIMED_OUT",
  "CANCELED",
  "SKIPPED",
  "COMPLETED_WITH_ERRORS",
];

/** Cuts text to about `chars` characters. */
function fit(text: string, chars: number): string {
  const n = Math.max(4, Math.floor(chars));
  return text.length > n ? text.slice(0, n - 1) + "…" : text;
}

function path(edge: PlacedEdge): string {
  const [first, ...rest] = edge.points;
  if (!first) return "";
  if (rest.length === 0) return `M${first.x},${first.y}`;
  // A smooth curve through dagre's points (quadratic midpoints).
  let d = `M${first.x},${first.y}`;
  for (let i = 0; i < rest.length - 1; i++) {
    const p = rest[i]!;
    const q = rest[i + 1]!;
    d += ` Q${p.x},${p.y} ${(p.x + q.x) / 2},${(p.y + q.y) / 2}`;
  }
  const last = rest[rest.length - 1]!;
  return d + ` L${last.x},${last.y}`;
}

function Frame({ frame, onIteration }: { frame: PlacedFrame; onIteration?: Props["onIteration"] }) {
  const left = frame.x - frame.width / 2;
  const top = frame.y - frame.height / 2;
  return (
    <g class="frame" data-loop={frame.ref}>
      <rect x={left} y={top} width={frame.width} height={frame.height} rx={10} />
      <foreignObject x={left + 8} y={top + 4} width={Math.max(frame.width - 16, 120)} height={24}>
        <div class="frame-head">
          <span class="loop-mark">↻</span> {frame.ref}
          {frame.iterations > 0 ? (
            <label>
              iteration{" "}
              <select
                aria-label={`iteration of ${frame.ref}`}
                value={String(frame.selected)}
                onChange={(e) => onIteration?.(frame.ref, Number((e.target as HTMLSelectElement).value))}
              >
                {Array.from({ length: frame.iterations }, (_, i) => (
                  <option value={String(i + 1)}>{i + 1}</option>
                ))}
              </select>{" "}
              of <span class="loop-count">{frame.iterations}</span>
            </label>
          ) : (
            <span class="muted"> not run yet</span>
          )}
        </div>
      </foreignObject>
    </g>
  );
}

function Node({ node, selected, onSelect, childRun }: { node: PlacedNode; selected: boolean; onSelect?: Props["onSelect"]; childRun?: string | undefined }) {
  const x = node.x - node.width / 2;
  const y = node.y - node.height / 2;
  const attempts = node.instances.length;
  const cls = `node kind-${node.kind} ${statusClass(node.state)}${selected ? " selected" : ""}`;
  if (node.kind === "start" || node.kind === "end") {
    return (
      <g class={cls} data-node={node.id} data-state={node.state}>
        <rect x={x} y={y} width={node.width} height={node.height} rx={node.height / 2} />
        <text x={node.x} y={node.y + 4} text-anchor="middle" class="label">
          {node.label}
        </text>
      </g>
    );
  }
  const counts = node.counts ? COUNT_ORDER.filter((s) => node.counts![s]).map((s) => [s, node.counts![s]!] as const) : [];
  const total = counts.reduce((n, [, c]) => n + c, 0);
  let offset = 0;
  return (
    <g
      class={cls}
      data-node={node.id}
      data-ref={node.ref}
      data-state={node.state}
      role="button"
      tabIndex={0}
      aria-label={`${node.label}: ${statusWord(node.state)}`}
      onClick={() => onSelect?.(node)}
      onKeyDown={(e) => (e.key === "Enter" || e.key === " ") && onSelect?.(node)}
    >
      <title>{`${node.label} (${node.type}): ${statusWord(node.state)}${attempts > 1 && node.kind === "task" ? `, ${attempts} attempts` : ""}`}</title>
      <rect x={x} y={y} width={node.width} height={node.height} rx={8} class="box" />
      <rect x={x} y={y} width={5} height={node.height} rx={2} class="bar" />
      <text x={x + 14} y={y + 20} class="label">
        {fit(node.label, (node.width - 24) / 7.8)}
      </text>
      <text x={x + 14} y={y + 38} class="sublabel">
        {fit(`${node.sublabel}${node.taken !== undefined ? ` → ${node.taken}` : ""}`, (node.width - 110) / 6.2)}
      </text>
      {childRun ? null : (
        <text x={x + node.width - 10} y={y + 38} text-anchor="end" class="state">
          {statusWord(node.state)}
          {attempts > 1 && node.kind === "task" ? ` ×${attempts}` : ""}
        </text>
      )}
      {childRun ? (
        <a href={runLink(childRun)} class="child-link" onClick={(e) => e.stopPropagation()}>
          <text x={x + node.width - 10} y={y + 38} text-anchor="end">
            child run ↗
          </text>
        </a>
      ) : null}
      {node.kind === "dynamic" && total > 0 ? (
        <g class="counts">
          {counts.map(([s, c]) => {
            const w = ((node.width - 28) * c) / total;
            const seg = <rect x={x + 14 + offset} y={y + 50} width={Math.max(w, 2)} height={8} class={`seg ${statusClass(s)}`} />;
            offset += w;
            return seg;
          })}
          <text x={x + 14} y={y + 70} class="count-text">
            {counts.map(([s, c]) => `${c.toLocaleString("en-US")} ${statusWord(s)}`).join(" · ")}
          </text>
        </g>
      ) : null}
    </g>
  );
}

export function GraphView(props: Props) {
  const box = useRef<HTMLDivElement>(null);
  const [view, setView] = useState({ x: 0, y: 0, k: 1 });
  const drag = useRef<{ x: number; y: number; vx: number; vy: number } | undefined>(undefined);
  const { layout } = props;

  /** The whole graph in view (the "fit" button). */
  const fit = () => {
    const el = box.current;
    if (!el) return;
    const w = el.clientWidth || 800;
    const h = el.clientHeight || 500;
    const k = Math.min(1.1, (w - 20) / Math.max(layout.width, 1), (h - 20) / Math.max(layout.height, 1));
    setView({ k, x: (w - layout.width * k) / 2, y: Math.max(10, (h - layout.height * k) / 2) });
  };
  /** First view: readable text, the top of the graph; the rest is a scroll away. */
  const readable = () => {
    const el = box.current;
    if (!el) return;
    const w = el.clientWidth || 800;
    const h = el.clientHeight || 500;
    const whole = Math.min(1, (w - 20) / Math.max(layout.width, 1), (h - 20) / Math.max(layout.height, 1));
    const k = whole >= 0.8 ? whole : Math.max(0.8, Math.min(1, (w - 40) / Math.max(layout.width, 1)));
    const x = layout.width * k <= w ? (w - layout.width * k) / 2 : 20;
    const focus = props.focus === undefined ? undefined : layout.nodes.find((n) => n.id === props.focus);
    if (layout.height * k <= h) setView({ k, x, y: (h - layout.height * k) / 2 });
    // The focused node a third of the way down, its neighbours above and below; never past the graph's top.
    else if (focus) setView({ k, x: layout.width * k <= w ? x : Math.min(20, w / 2 - focus.x * k), y: Math.min(8, h / 3 - focus.y * k) });
    else setView({ k, x, y: 8 });
  };
  useLayoutEffect(readable, [props.fitKey]);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    // The wheel pans (the graph is often taller than its pane); with Ctrl or Cmd it zooms.
    const wheel = (e: WheelEvent) => {
      e.preventDefault();
      if (!e.ctrlKey && !e.metaKey) {
        setView((v) => ({ ...v, x: v.x - e.deltaX, y: v.y - e.deltaY }));
        return;
      }
      const r = el.getBoundingClientRect();
      const px = e.clientX - r.left;
      const py = e.clientY - r.top;
      setView((v) => {
        const k = Math.min(3, Math.max(0.1, v.k * Math.exp(-e.deltaY / 300)));
        return { k, x: px - ((px - v.x) * k) / v.k, y: py - ((py - v.y) * k) / v.k };
      });
    };
    el.addEventListener("wheel", wheel, { passive: false });
    return () => el.removeEventListener("wheel", wheel);
  }, []);

  return (
    <div
      class="graph"
      ref={box}
      onPointerDown={(e) => {
        if ((e.target as Element).closest(".node, select, a, button")) return;
        drag.current = { x: e.clientX, y: e.clientY, vx: view.x, vy: view.y };
        (e.currentTarget as HTMLElement).setPointerCapture(e.pointerId);
      }}
      onPointerMove={(e) => {
        const d = drag.current;
        if (d) setView((v) => ({ ...v, x: d.vx + e.clientX - d.x, y: d.vy + e.clientY - d.y }));
      }}
      onPointerUp={() => (drag.current = undefined)}
    >
      <div class="graph-tools">
        <button type="button" class="ghost small" onClick={fit} title="The whole graph in view (drag or scroll to move; Ctrl+scroll to zoom)">
          fit
        </button>
        <button type="button" class="ghost small" onClick={() => setView((v) => ({ ...v, k: Math.min(3, v.k * 1.25) }))} aria-label="zoom in">
          +
        </button>
        <button type="button" class="ghost small" onClick={() => setView((v) => ({ ...v, k: Math.max(0.1, v.k / 1.25) }))} aria-label="zoom out">
          −
        </button>
      </div>
      <svg width="100%" height="100%" role="img" aria-label="run graph">
        <defs>
          <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
            <path d="M0,0 L10,5 L0,10 z" class="arrow" />
          </marker>
          <marker id="arrow-taken" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
            <path d="M0,0 L10,5 L0,10 z" class="arrow-taken" />
          </marker>
        </defs>
        <g transform={`translate(${view.x},${view.y}) scale(${view.k})`}>
          {layout.frames.map((f) => (
            <Frame frame={f} onIteration={props.onIteration} />
          ))}
          {layout.edges.map((e) => (
            <g class={`edge${e.taken ? " taken" : ""}${e.chosen ? " chosen" : ""}${e.chosen === false ? " not-chosen" : ""}`}>
              <path d={path(e)} marker-end={e.taken ? "url(#arrow-taken)" : "url(#arrow)"} />
              {e.label && e.labelAt ? (
                <g class="edge-label" data-case={e.label} data-chosen={e.chosen ? "true" : "false"}>
                  <rect
                    x={e.labelAt.x - (7 * (e.label.length + (e.chosen ? 2 : 0)) + 14) / 2}
                    y={e.labelAt.y - 10}
                    width={7 * (e.label.length + (e.chosen ? 2 : 0)) + 14}
                    height={20}
                    rx={10}
                  />
                  <text x={e.labelAt.x} y={e.labelAt.y + 4} text-anchor="middle">
                    {e.chosen ? "✓ " : ""}
                    {e.label}
                  </text>
                </g>
              ) : null}
            </g>
          ))}
          {layout.nodes.map((n) => (
            <Node node={n} selected={props.selected === n.id} onSelect={props.onSelect} childRun={props.childRunOf?.(n)} />
          ))}
        </g>
      </svg>
    </div>
  );
}
