// RouteService: weights over a workflow's versions for starts that name none,
// their history, and the health of each version (see routes/).
import { shortened } from "@baton/json";
import { create } from "@bufbuild/protobuf";
import { grpc, RouteSchema, RpcError, RouteService, type RouteGuard as RouteGuardMessage, type ServiceImpl } from "@baton/protocol";
import { keyIdOfCall, principalOfCall } from "../auth/guard.js";
import type { RouteControl } from "../routes/control.js";
import type { Route, RouteGuard } from "../routes/route.js";
import { RevisionMoved, type Store } from "../store/store.js";
import { rpc } from "./errors.js";
import type { SearchLane } from "./search-lane.js";

/**
 * `searches`: where a caller's version health is counted, in turn by key; `counts`: the count there (on the store's search
 * connections: it reads every run of the name in the window, and sorts their durations).
 */
export function routeService(control: RouteControl, searches: SearchLane, counts: Store["versionCounts"]): ServiceImpl<typeof RouteService> {
  const actorOf = (call: unknown) => {
    const principal = principalOfCall(call as object);
    return principal ? principal.name || principal.id : "anonymous";
  };
  const found = async (name: string) => {
    const route = await control.get(name);
    if (!route) throw new RpcError(grpc.status.NOT_FOUND, `no route for ${shortened(name)}: starts without a version get the latest version`);
    return route;
  };
  return {
    getRoute: rpc(async (req) => ({ route: toMessage(await found(req.workflowName)) })),

    setRoute: rpc(
      moved(async (req, call) => {
        const { route, changed } = await control.set(
          req.workflowName,
          {
            weights: req.weights.map((w) => ({ version: w.version, weight: w.weight })),
            sticky: req.sticky.trim(),
            ...(req.guard ? { guard: fromGuard(req.guard) } : {}),
            expectedRevision: Number(req.expectedRevision),
            note: req.note,
          },
          actorOf(call),
        );
        return { route: toMessage(route), changed };
      }),
    ),

    promoteRoute: rpc(async (req, call) => ({ route: toMessage(await control.promote(req.workflowName, req.version, actorOf(call), req.note)) })),

    rollbackRoute: rpc(async (req, call) => ({ route: toMessage(await control.rollback(req.workflowName, actorOf(call), req.note)) })),

    deleteRoute: rpc(async (req, call) => {
      await control.delete(req.workflowName, actorOf(call));
      return {};
    }),

    listRouteHistory: rpc(async (req) => {
      const changes = await control.history(req.workflowName, req.limit);
      return {
        changes: changes.map((c) => ({
          revision: BigInt(c.revision),
          timeMs: BigInt(c.at),
          action: c.action,
          actor: c.actor,
          note: c.note,
          weights: c.weights,
          sticky: c.sticky,
        })),
      };
    }),

    getRouteStatus: rpc(async (req, call) => {
      const { route, versions, since } = await searches.run(
        keyIdOfCall(call),
        () => control.status(req.workflowName, req.windowSeconds, counts),
        undefined,
        "a shorter window (window_seconds)",
      );
      return {
        ...(route ? { route: toMessage(route) } : {}),
        windowStartMs: BigInt(since),
        versions: versions.map((v) => ({
          version: v.version,
          weight: v.weight,
          started: BigInt(v.started),
          running: BigInt(v.running),
          completed: BigInt(v.completed),
          failed: BigInt(v.failed),
          timedOut: BigInt(v.timedOut),
          terminated: BigInt(v.terminated),
          failureRate: v.failureRate,
          durationP50Ms: v.p50,
          durationP99Ms: v.p99,
        })),
      };
    }),
  };
}

/** A route that moved past the revision the caller read is a race, not bad input. */
function moved<A extends unknown[], R>(fn: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
  return async (...args) => {
    try {
      return await fn(...args);
    } catch (error) {
      if (error instanceof RevisionMoved) throw new RpcError(grpc.status.ABORTED, error.message);
      throw error;
    }
  };
}

function fromGuard(g: RouteGuardMessage): RouteGuard {
  return { maxFailureRateIncrease: g.maxFailureRateIncrease, minEndedRuns: g.minEndedRuns, windowSeconds: g.windowSeconds };
}

function toMessage(route: Route) {
  return create(RouteSchema, {
    workflowName: route.name,
    weights: route.weights,
    sticky: route.sticky,
    ...(route.guard ? { guard: route.guard } : {}),
    revision: BigInt(route.revision),
    updateTimeMs: BigInt(route.updatedAt),
    updatedBy: route.updatedBy,
    stableVersion: route.stableVersion,
  });
}
