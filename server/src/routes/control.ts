// Changing routes: set, promote, roll back, delete, and the guard that rolls
// a canary back by itself. Every change is checked first (refused whole,
// naming the field), then written in one transaction with its history entry.
import { shortened } from "@baton/json";
import type { Clock } from "../clock.js";
import { Refusal } from "../decider/decider.js";
import type { Logger } from "../logger.js";
import { RevisionMoved, type RouteChangeRecord, type Store, type VersionCounts } from "../store/store.js";
import { heaviest, normalized, routedVersions, routeProblems, type Route, type RouteGuard, type RouteProblem, type RouteWeight } from "./route.js";

export interface VersionHealth extends VersionCounts {
  weight: number;
  /** (failed + timed out) / (completed + failed + timed out); 0 with none ended. */
  failureRate: number;
  /** Ended runs that count for the failure rate (operator terminations do not). */
  ended: number;
}

export interface RouteHooks {
  /** A route changed here (the local cache drops it at once; NOTIFY tells the others). */
  changed(name: string): void;
  /** The guard rolled a route back. */
  rolledBack?(name: string, from: number, to: number): void;
}

/** The store operations route control uses. */
export type RouteStore = Pick<
  Store,
  "route" | "guardedRoutes" | "changeRoute" | "deleteRoute" | "routeHistory" | "workflowVersions" | "versionCounts" | "versionCountsOf"
>;

export class RouteControl {
  constructor(
    private readonly routes: RouteStore,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly hooks: RouteHooks,
  ) {}

  get(name: string): Promise<Route | undefined> {
    return this.routes.route(name);
  }

  async set(
    name: string,
    ask: { weights: RouteWeight[]; sticky: string; guard?: RouteGuard; expectedRevision?: number; note: string },
    actor: string,
  ): Promise<{ route: Route; changed: boolean }> {
    requireName(name);
    const registered = await this.routes.workflowVersions(name);
    if (registered.length === 0) throw new Refusal("NOT_FOUND", `no workflow definition ${shortened(name)}: register it before routing its starts`);
    refuseProblems(routeProblems(ask, registered));
    const weights = normalized(ask.weights);
    const result = await this.routes.changeRoute(
      name,
      actor,
      this.clock.now(),
      (current) => {
        if (current && sameRoute(current, weights, ask.sticky, ask.guard)) return undefined;
        // The stable version stays while it keeps traffic, so ramping a canary up does not move it.
        const keep = current && routedVersions({ weights }).includes(current.stableVersion);
        const stableVersion = keep ? current.stableVersion : heaviest(weights);
        return { route: { name, weights, sticky: ask.sticky, ...(ask.guard ? { guard: ask.guard } : {}), stableVersion }, action: "set", note: ask.note };
      },
      ask.expectedRevision ?? 0,
    );
    this.hooks.changed(name);
    return result!;
  }

  async promote(name: string, version: number, actor: string, note: string): Promise<Route> {
    requireName(name);
    const result = await this.routes.changeRoute(name, actor, this.clock.now(), (current) => {
      if (!current) throw new Refusal("NOT_FOUND", `no route for ${shortened(name)}: set one first (baton route set ${shortened(name)} ...)`);
      if (!current.weights.some((w) => w.version === version)) {
        throw new Refusal(
          "FAILED_PRECONDITION",
          `version: ${version} is not in the route of ${name} (versions: ${current.weights.map((w) => w.version).join(", ")}); promote one of them`,
        );
      }
      return { route: { ...current, weights: [{ version, weight: 100 }], stableVersion: version }, action: "promote", note };
    });
    this.hooks.changed(name);
    return result!.route;
  }

  async rollback(name: string, actor: string, note: string, action = "rollback", expectedRevision = 0): Promise<Route> {
    requireName(name);
    const history = await this.routes.routeHistory(name, 1000);
    const result = await this.routes.changeRoute(
      name,
      actor,
      this.clock.now(),
      (current) => {
        if (!current) throw new Refusal("NOT_FOUND", `no route for ${shortened(name)}: nothing to roll back`);
        const target = rollbackTarget(current, history);
        if (target === undefined) {
          throw new Refusal(
            "FAILED_PRECONDITION",
            `route ${name} sends every start to version ${current.stableVersion} and has no earlier stable version to return to`,
          );
        }
        return { route: { ...current, weights: [{ version: target, weight: 100 }], stableVersion: target }, action, note };
      },
      expectedRevision,
    );
    this.hooks.changed(name);
    return result!.route;
  }

  async delete(name: string, actor: string): Promise<void> {
    requireName(name);
    if (!(await this.routes.deleteRoute(name, actor, this.clock.now()))) throw new Refusal("NOT_FOUND", `no route for ${shortened(name)}`);
    this.hooks.changed(name);
  }

  history(name: string, limit: number): Promise<RouteChangeRecord[]> {
    return this.routes.routeHistory(name, Math.min(Math.max(limit || 50, 1), 1000));
  }

  /**
   * Health of every version of `name` started in the window (the route's versions first appear even with no run);
   * `count`: where the runs are counted (a caller's status counts in the search lane).
   */
  async status(
    name: string,
    windowSeconds: number,
    count: RouteStore["versionCounts"] = this.routes.versionCounts,
  ): Promise<{ route: Route | undefined; versions: VersionHealth[]; since: number }> {
    requireName(name);
    const route = await this.routes.route(name);
    const since = this.clock.now() - (windowSeconds > 0 ? windowSeconds : 3600) * 1000;
    return { route, versions: await this.health(name, route, since, count), since };
  }

  /** Each route's versions' health over the last `windowSeconds`, counted in one statement for all of them (a metrics scrape). */
  async statusOf(routes: readonly Route[], windowSeconds: number): Promise<{ route: Route; versions: VersionHealth[] }[]> {
    const since = this.clock.now() - windowSeconds * 1000;
    const counts = await this.routes.versionCountsOf(
      routes.map((r) => r.name),
      since,
    );
    return routes.map((route) => ({ route, versions: healthOf(route, counts.get(route.name) ?? []) }));
  }

  private async health(name: string, route: Route | undefined, since: number, count: RouteStore["versionCounts"]): Promise<VersionHealth[]> {
    return healthOf(route, await count(name, since));
  }

  /**
   * The guard: for each guarded route that splits traffic, a canary (any
   * routed version but the stable one) whose failure rate exceeds the stable
   * version's by more than the margin, over at least the minimum of ended
   * runs, rolls the route back to the stable version. Any replica may run it:
   * the rollback is conditional on the route's revision, so it happens once.
   */
  async guard(): Promise<void> {
    for (const route of await this.routes.guardedRoutes()) {
      const guard = route.guard!;
      const canaries = routedVersions(route).filter((v) => v !== route.stableVersion);
      if (canaries.length === 0) continue;
      const since = guard.windowSeconds > 0 ? Math.max(route.updatedAt, this.clock.now() - guard.windowSeconds * 1000) : route.updatedAt;
      const health = await this.health(route.name, route, since, this.routes.versionCounts);
      const stable = health.find((h) => h.version === route.stableVersion);
      const stableRate = stable?.failureRate ?? 0;
      const failing = health.find(
        (h) => canaries.includes(h.version) && h.ended >= guard.minEndedRuns && (h.failureRate - stableRate) * 100 > guard.maxFailureRateIncrease,
      );
      if (!failing) continue;
      const note =
        `guard: version ${failing.version} failed ${pct(failing.failureRate)} of ${failing.ended} ended runs, ` +
        `stable version ${route.stableVersion} ${pct(stableRate)}: more than ${guard.maxFailureRateIncrease} points apart`;
      try {
        await this.rollback(route.name, "guard", note, "guard-rollback", route.revision);
      } catch (error) {
        // Changed meanwhile (by a person or another replica's guard): the next round looks again.
        if (error instanceof RevisionMoved) continue;
        throw error;
      }
      this.log.warn({ workflow: route.name, from: failing.version, to: route.stableVersion }, note);
      this.hooks.rolledBack?.(route.name, failing.version, route.stableVersion);
    }
  }
}

/** A route's versions' health from their counts: each routed version, with no runs or some, and its share of the starts. */
function healthOf(route: Route | undefined, counts: VersionCounts[]): VersionHealth[] {
  for (const w of route?.weights ?? []) {
    if (!counts.some((c) => c.version === w.version)) {
      counts.push({ version: w.version, started: 0, running: 0, completed: 0, failed: 0, timedOut: 0, terminated: 0, p50: 0, p99: 0 });
    }
  }
  return counts
    .sort((a, b) => a.version - b.version)
    .map((c) => {
      const ended = c.completed + c.failed + c.timedOut;
      return {
        ...c,
        weight: route?.weights.find((w) => w.version === c.version)?.weight ?? 0,
        ended,
        failureRate: ended > 0 ? (c.failed + c.timedOut) / ended : 0,
      };
    });
}

/** Where a rollback goes: the stable version of a split route; else the last different stable version in the history. */
export function rollbackTarget(current: Route, history: readonly { stableVersion: number; revision: number }[]): number | undefined {
  if (routedVersions(current).length > 1) return current.stableVersion;
  const earlier = history.filter((h) => h.revision < current.revision && h.stableVersion !== current.stableVersion).sort((a, b) => b.revision - a.revision)[0];
  return earlier?.stableVersion;
}

function sameRoute(current: Route, weights: RouteWeight[], sticky: string, guard: RouteGuard | undefined): boolean {
  const sameWeights =
    current.weights.length === weights.length && current.weights.every((w, i) => w.version === weights[i]!.version && w.weight === weights[i]!.weight);
  const g = current.guard;
  const sameGuard =
    g === undefined || guard === undefined
      ? g === guard
      : g.maxFailureRateIncrease === guard.maxFailureRateIncrease && g.minEndedRuns === guard.minEndedRuns && g.windowSeconds === guard.windowSeconds;
  return sameWeights && current.sticky === sticky && sameGuard;
}

function requireName(name: string): void {
  if (!name.trim()) throw new Refusal("INVALID_ARGUMENT", "workflow_name is required");
}

function refuseProblems(problems: RouteProblem[]): void {
  if (problems.length > 0) throw new Refusal("INVALID_ARGUMENT", `invalid route: ${problems.map((p) => `${p.field}: ${p.message}`).join("; ")}`);
}

function pct(rate: number): string {
  return `${(rate * 100).toFixed(1)}%`;
}
