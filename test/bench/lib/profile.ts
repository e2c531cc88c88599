// Reads a V8 .cpuprofile (from `node --cpu-prof`) and says where the time went:
// self time per function, and per area (Baton's code, gRPC, protobuf, pg, ...),
// and the longest tasks that held the serving thread.
import { readFileSync } from "node:fs";
import path from "node:path";
import { ROOT, round } from "./util.js";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface ProfileSummary {
  file: string;
  totalMs: number;
  /** Share of sampled time that was not idle. */
  busyPercent: number;
  areas: { area: string; percent: number }[];
  functions: { fn: string; percent: number }[];
  /**
   * The longest tasks on the serving thread, start-up's included: runs of
   * samples under one entry frame with no idle between them. Ranked by
   * samples (about the thread's own CPU ms), not wall time, which a loaded
   * machine stretches; each named by the deepest Baton frame under at least
   * half its samples.
   */
  longTasks: { samples: number; wallMs: number; where: string }[];
}

const AREAS: [string, RegExp][] = [
  ["baton store (SQL building, row mapping)", /server\/dist\/store\//],
  ["baton engine (decider, system tasks)", /server\/dist\/engine\//],
  ["baton runtime (events, timers, outbox)", /server\/dist\/runtime\//],
  ["baton dispatch", /server\/dist\/dispatch\//],
  ["baton services (gRPC handlers, conversion)", /server\/dist\/service\//],
  ["baton expressions", /server\/dist\/expressions\//],
  ["baton other", /server\/dist\//],
  ["protocol (protobuf, JSON codecs)", /packages\/protocol\/|@bufbuild\/protobuf/],
  ["grpc-js", /@grpc\/grpc-js/],
  ["pg driver", /node_modules\/(pg|pg-protocol|pg-pool|pg-types|postgres-)/],
  ["pino logging", /node_modules\/pino/],
  ["other node_modules", /node_modules\//],
  ["node internals (net, streams, http2, timers)", /^node:|^internal\//],
];

export function summarizeProfile(file: string, top = 15): ProfileSummary | undefined {
  let profile: CpuProfile;
  try {
    profile = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  } catch {
    return undefined;
  }
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  let total = 0;
  let idle = 0;
  const fns = new Map<string, number>();
  const areas = new Map<string, number>();
  for (const [id, micros] of self) {
    const node = byId.get(id);
    if (!node) continue;
    total += micros;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === "(idle)") {
      idle += micros;
      continue;
    }
    const where = url ? `${url.startsWith("file://") ? path.relative(ROOT, new URL(url).pathname) : url}:${lineNumber + 1}` : "";
    const key = `${functionName || "(anonymous)"}${where ? ` ${where}` : ""}`;
    fns.set(key, (fns.get(key) ?? 0) + micros);
    const area = functionName.startsWith("(") ? functionName : (AREAS.find(([, re]) => re.test(url))?.[0] ?? (url ? "other" : "native / builtins"));
    areas.set(area, (areas.get(area) ?? 0) + micros);
  }
  const busy = total - idle;
  const longTasks = longestTasks(profile, byId);
  const pct = (v: number) => round((100 * v) / (busy || 1), 1);
  return {
    file: path.relative(ROOT, file),
    totalMs: Math.round(total / 1000),
    busyPercent: round((100 * busy) / (total || 1), 1),
    areas: [...areas].sort((a, b) => b[1] - a[1]).map(([area, v]) => ({ area, percent: pct(v) })),
    functions: [...fns]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([fn, v]) => ({ fn, percent: pct(v) })),
    longTasks,
  };
}

const frameName = (node: ProfileNode) => {
  const { functionName, url, lineNumber } = node.callFrame;
  return `${functionName || "(anonymous)"} ${url.startsWith("file://") ? path.relative(ROOT, new URL(url).pathname) : url}:${lineNumber + 1}`;
};

function longestTasks(profile: CpuProfile, byId: Map<number, ProfileNode>, top = 10): ProfileSummary["longTasks"] {
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const root = profile.nodes[0]?.id;
  const entryOf = (id: number) => {
    let at = id;
    while (parent.get(at) !== undefined && parent.get(at) !== root) at = parent.get(at)!;
    return at;
  };
  const tasks: { entry: number; samples: number[]; wallUs: number }[] = [];
  let current: (typeof tasks)[number] | undefined;
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    const idle = byId.get(id)?.callFrame.functionName === "(idle)";
    const entry = idle ? undefined : entryOf(id);
    if (entry !== undefined && current?.entry === entry) {
      current.samples.push(id);
      current.wallUs += profile.timeDeltas[i] ?? 0;
      continue;
    }
    current = entry === undefined ? undefined : { entry, samples: [id], wallUs: 0 };
    if (current) tasks.push(current);
  }
  return tasks
    .sort((a, b) => b.samples.length - a.samples.length)
    .slice(0, top)
    .map((task) => {
      // Frames under at least half the task's samples; the deepest of Baton's names it.
      const under = new Map<number, number>();
      for (const id of task.samples)
        for (let at: number | undefined = id; at !== undefined && at !== root; at = parent.get(at)) under.set(at, (under.get(at) ?? 0) + 1);
      let where = frameName(byId.get(task.entry)!);
      let depth = -1;
      for (const [id, count] of under) {
        const node = byId.get(id)!;
        if (count * 2 < task.samples.length || !/\/(server|packages)\/[^/]+\/dist\/|\/server\/dist\//.test(node.callFrame.url)) continue;
        let d = 0;
        for (let at = parent.get(id); at !== undefined; at = parent.get(at)) d++;
        if (d > depth) [depth, where] = [d, frameName(node)];
      }
      return { samples: task.samples.length, wallMs: round(task.wallUs / 1000, 1), where };
    });
}
