// Every attempt on one time axis: time queued (scheduled -> picked up) light,
// time running (picked up -> ended) in the attempt's status colour. Rows are
// drawn only where the list is scrolled to, so 10,000 attempts stay quick.
import { useState } from "preact/hooks";
import type { Task, Workflow } from "../api.js";
import { duration, statusClass, taskStatusName } from "../ui.js";

const ROW = 24;
const HEIGHT = 360;
const LABEL = 220;

export function Timeline({ run, onSelect }: { run: Workflow; onSelect: (t: Task) => void }) {
  const [top, setTop] = useState(0);
  const [width, setWidth] = useState(900);
  const tasks = run.tasks;
  if (tasks.length === 0) return <p class="muted">No tasks yet.</p>;
  const now = Date.now();
  const start = Number(run.createTimeMs);
  const end = Math.max(Number(run.endTimeMs) || now, ...tasks.slice(-1).map((t) => Number(t.endTimeMs) || now));
  const span = Math.max(end - start, 1);
  const plot = Math.max(width - LABEL - 90, 200);
  const x = (ms: number) => ((ms - start) / span) * plot;
  const first = Math.max(0, Math.floor(top / ROW) - 5);
  const rows = tasks.slice(first, first + Math.ceil(HEIGHT / ROW) + 10);
  const ticks = Array.from({ length: 5 }, (_, i) => (span * i) / 4);
  return (
    <div class="timeline">
      <div class="timeline-axis" style={{ marginLeft: `${LABEL}px`, width: `${plot}px` }}>
        {ticks.map((t) => (
          <span style={{ left: `${(t / span) * plot}px` }}>+{duration(t)}</span>
        ))}
      </div>
      <div
        class="timeline-rows"
        style={{ height: `${HEIGHT}px` }}
        ref={(el) => {
          if (el && Math.abs(el.clientWidth - width) > 20) setWidth(el.clientWidth);
        }}
        onScroll={(e) => setTop((e.currentTarget as HTMLElement).scrollTop)}
      >
        <div style={{ height: `${tasks.length * ROW}px`, position: "relative" }}>
          {rows.map((t, i) => {
            const scheduled = Number(t.scheduledTimeMs) || start;
            const started = Number(t.startTimeMs);
            const ended = Number(t.endTimeMs);
            const status = taskStatusName(t.status);
            const queuedTo = started || ended || now;
            const runTo = ended || now;
            return (
              <div
                class="tl-row"
                data-task={t.referenceTaskName}
                data-attempt={t.retryCount}
                style={{ top: `${(first + i) * ROW}px` }}
                onClick={() => onSelect(t)}
                title={`${t.referenceTaskName}: ${status}`}
              >
                <span class="tl-label mono" style={{ width: `${LABEL}px` }}>
                  {t.referenceTaskName}
                  {t.retryCount > 0 ? <span class="muted"> (retry {t.retryCount})</span> : null}
                </span>
                <span class="tl-track" style={{ width: `${plot}px` }}>
                  <i
                    class="tl-queued"
                    title={`queued ${duration(queuedTo - scheduled)}`}
                    style={{ left: `${x(scheduled)}px`, width: `${Math.max(x(queuedTo) - x(scheduled), 1)}px` }}
                  />
                  {started ? (
                    <i
                      class={`tl-run ${statusClass(status)}`}
                      data-state={status}
                      title={`ran ${duration(runTo - started)}: ${status}`}
                      style={{ left: `${x(started)}px`, width: `${Math.max(x(runTo) - x(started), 2)}px` }}
                    />
                  ) : null}
                </span>
                <span class="tl-dur muted">{started ? duration(runTo - started) : status === "SCHEDULED" ? "queued" : ""}</span>
              </div>
            );
          })}
        </div>
      </div>
      <div class="timeline-key muted">
        <i class="tl-queued key" /> queued <i class="tl-run st-completed key" /> running
      </div>
    </div>
  );
}
