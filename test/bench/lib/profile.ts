// Reads a V8 .cpuprofile (from `node --cpu-prof`) and says where the time went:
// self time per function, and per area (Baton's code, gRPC, protobuf, pg, ...).
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
  };
}
