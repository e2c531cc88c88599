// What the client hands back for schedules and routes: plain values (epoch
// ms as numbers, JSON parsed) made from the wire messages.
import { parseJson, type Route, type ScheduleInfo } from "@baton/protocol";

/** A schedule as stored, with where it stands. */
export interface ScheduleState {
  schedule: Record<string, unknown>;
  paused: boolean;
  /** Epoch ms; 0 when paused or past its end. */
  nextFireTime: number;
  nextDueTime: number;
  lastFireTime: number;
  lastRunId: string;
  bufferedFireTime: number;
  skippedFires: number;
  createTime: number;
  updateTime: number;
}

export function scheduleState(info: ScheduleInfo | undefined): ScheduleState {
  if (!info) throw new Error("the server sent no schedule");
  return {
    schedule: parseJson(info.scheduleJson) as Record<string, unknown>,
    paused: info.paused,
    nextFireTime: Number(info.nextFireTimeMs),
    nextDueTime: Number(info.nextDueTimeMs),
    lastFireTime: Number(info.lastFireTimeMs),
    lastRunId: info.lastRunId,
    bufferedFireTime: Number(info.bufferedFireTimeMs),
    skippedFires: Number(info.skippedFires),
    createTime: Number(info.createTimeMs),
    updateTime: Number(info.updateTimeMs),
  };
}

export interface RouteWeightView {
  version: number;
  /** Percent of starts. */
  weight: number;
}

export interface RouteGuardView {
  /** Percentage points by which the canary's failure rate may exceed the stable version's. */
  maxFailureRateIncrease: number;
  minEndedRuns: number;
  /** 0: since the route was set. */
  windowSeconds: number;
}

export interface RouteView {
  workflowName: string;
  weights: RouteWeightView[];
  sticky: string;
  guard?: RouteGuardView;
  revision: number;
  updateTime: number;
  updatedBy: string;
  stableVersion: number;
}

export function toRouteView(route: Route): RouteView {
  return {
    workflowName: route.workflowName,
    weights: route.weights.map((w) => ({ version: w.version, weight: w.weight })),
    sticky: route.sticky,
    ...(route.guard
      ? {
          guard: {
            maxFailureRateIncrease: route.guard.maxFailureRateIncrease,
            minEndedRuns: route.guard.minEndedRuns,
            windowSeconds: route.guard.windowSeconds,
          },
        }
      : {}),
    revision: Number(route.revision),
    updateTime: Number(route.updateTimeMs),
    updatedBy: route.updatedBy,
    stableVersion: route.stableVersion,
  };
}
