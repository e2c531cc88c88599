// Queues and workers: per task type, tasks ready / delayed / in progress, the
// type's concurrency and rate limits, and the workers connected now (identity,
// free slots, last seen). A type with work and no worker is called out.
// Read again when any run moves (the same long poll as the runs list).
import { useEffect, useState } from "preact/hooks";
import { errorText, listQueues, listTaskDefs, listWorkers, workflows } from "../api.js";
import { Empty, ErrorBox, time } from "../ui.js";

interface Row {
  taskType: string;
  ready: number;
  delayed: number;
  inProgress: number;
  concurrency?: number;
  rate?: string;
  workers: number;
  slots: number;
}

interface Worker {
  workerId: string;
  taskTypes: string[];
  kind: string;
  freeSlots: bigint;
  connectedAtMs: bigint;
  lastSeenMs: bigint;
  tasksDelivered: bigint;
  replica: string;
}

export function QueuesPage() {
  const [rows, setRows] = useState<Row[] | undefined>(undefined);
  const [workers, setWorkers] = useState<Worker[]>([]);
  const [error, setError] = useState<string | undefined>(undefined);
  const [tick, setTick] = useState(0);

  useEffect(() => {
    let live = true;
    Promise.all([listQueues(), listWorkers(), listTaskDefs()]).then(
      ([queues, connected, defs]) => {
        if (!live) return;
        const limits = new Map<string, Record<string, unknown>>();
        for (const j of defs) {
          const d = JSON.parse(j) as Record<string, unknown>;
          limits.set(String(d["name"]), d);
        }
        const types = new Set<string>([...queues.map((x) => x.taskType), ...connected.flatMap((x) => x.taskTypes), ...limits.keys()]);
        const out: Row[] = [...types].sort().map((type) => {
          const depth = queues.find((x) => x.taskType === type);
          const def = limits.get(type);
          const serving = connected.filter((x) => x.taskTypes.includes(type));
          const concurrency = Number(def?.["concurrentExecLimit"] ?? 0);
          const perFreq = Number(def?.["rateLimitPerFrequency"] ?? 0);
          return {
            taskType: type,
            ready: Number(depth?.ready ?? 0),
            delayed: Number(depth?.delayed ?? 0),
            inProgress: Number(depth?.inProgress ?? 0),
            ...(concurrency ? { concurrency } : {}),
            ...(perFreq ? { rate: `${perFreq} per ${Number(def?.["rateLimitFrequencyInSeconds"] ?? 1)} s` } : {}),
            workers: serving.length,
            slots: serving.reduce((n, x) => n + Number(x.freeSlots), 0),
          };
        });
        setRows(out);
        setWorkers(connected);
        setError(undefined);
      },
      (e) => live && setError(errorText(e)),
    );
    return () => {
      live = false;
    };
  }, [tick]);

  useEffect(() => {
    const abort = new AbortController();
    (async () => {
      while (!abort.signal.aborted) {
        try {
          await workflows.watchWorkflows({ waitMs: 10_000n }, { signal: abort.signal, timeoutMs: 20_000 });
          await new Promise((r) => setTimeout(r, 1000));
          setTick((t) => t + 1);
        } catch {
          if (abort.signal.aborted) return;
          await new Promise((r) => setTimeout(r, 5000));
        }
      }
    })();
    return () => abort.abort();
  }, []);

  return (
    <section class="page">
      <h1>Queues and workers</h1>
      {error ? <ErrorBox message={error} /> : null}
      {!rows ? (
        <p class="muted">Loading…</p>
      ) : rows.length === 0 ? (
        <Empty>No task types yet.</Empty>
      ) : (
        <table class="runs">
          <thead>
            <tr>
              <th>Task type</th>
              <th class="num">Ready</th>
              <th class="num">Delayed</th>
              <th class="num">In progress</th>
              <th>Concurrency limit</th>
              <th>Rate limit</th>
              <th class="num">Workers</th>
              <th class="num">Free slots</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr data-queue={r.taskType} class={r.workers === 0 && r.ready > 0 ? "warn-row" : ""}>
                <td class="mono">{r.taskType}</td>
                <td class="num">{r.ready.toLocaleString("en-US")}</td>
                <td class="num">{r.delayed.toLocaleString("en-US")}</td>
                <td class="num">{r.inProgress.toLocaleString("en-US")}</td>
                <td>{r.concurrency ?? "—"}</td>
                <td>{r.rate ?? "—"}</td>
                <td class="num">
                  {r.workers === 0 && r.ready > 0 ? (
                    <span class="warn" title="tasks wait and no worker serves this type">
                      none ⚠
                    </span>
                  ) : (
                    r.workers
                  )}
                </td>
                <td class="num">{r.slots}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h2>Connected workers</h2>
      {workers.length === 0 ? (
        <Empty>No worker is connected to any server now.</Empty>
      ) : (
        <table class="runs">
          <thead>
            <tr>
              <th>Worker</th>
              <th>Task types</th>
              <th>How</th>
              <th class="num">Free slots</th>
              <th class="num">Tasks handed out</th>
              <th>Connected</th>
              <th>Last seen</th>
              <th>Server</th>
            </tr>
          </thead>
          <tbody>
            {workers.map((w) => (
              <tr data-worker={w.workerId}>
                <td class="mono">{w.workerId || <span class="muted">(no id)</span>}</td>
                <td class="mono">{w.taskTypes.join(", ")}</td>
                <td>{w.kind === "dispatch" ? "stream" : "long poll"}</td>
                <td class="num">{String(w.freeSlots)}</td>
                <td class="num">{Number(w.tasksDelivered).toLocaleString("en-US")}</td>
                <td>{time(w.connectedAtMs)}</td>
                <td>{time(w.lastSeenMs)}</td>
                <td class="mono muted">{w.replica}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
