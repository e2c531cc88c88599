// Chooses the version for a start that names none. Routes are cached per
// replica: a change is announced with NOTIFY baton_routes and drops the entry
// on every replica; entries also expire after a few seconds, in case a
// notification was missed while the listener reconnected. A start reads one
// cached route, so it follows either the old or the new route, never a mix.
import { randomInt } from "node:crypto";
import type { RouteChoice } from "../decider/model.js";
import { SharedReads } from "../store/coalesced-read.js";
import type { Store } from "../store/store.js";
import { keyPoint, routedVersions, stickyKeyOf, versionAt, type Route } from "./route.js";

const MAX_AGE_MS = 5_000;
const MAX_CACHED = 10_000;

export interface RoutedStart {
  name: string;
  input: Record<string, unknown>;
  correlationId: string;
}

export class VersionRouter {
  private readonly cache = new Map<string, { route: Route | undefined; at: number }>();
  private generation = 0;
  /** Starts of a name that miss the cache together share one read (one begun before a change answers none after it). */
  private readonly reads = new SharedReads<Route | undefined>();

  constructor(private readonly routes: Pick<Store, "route" | "stickyVersion">) {}

  /** The route's choice for a start, or undefined when the name has no route (the start gets the latest version). */
  async choose(start: RoutedStart): Promise<{ version: number; choice: RouteChoice } | undefined> {
    const route = await this.route(start.name);
    if (!route) return undefined;
    const key = route.sticky ? stickyKeyOf(route.sticky, start) : undefined;
    if (key === undefined) {
      const drawn = versionAt(route.weights, randomInt(0, 1_000_000) / 1_000_000);
      return { version: drawn.version, choice: { revision: route.revision, weight: drawn.weight, reason: "weight" } };
    }
    const { point, hash } = keyPoint(key);
    const proposed = versionAt(route.weights, point).version;
    const version = await this.routes.stickyVersion(route.name, hash, proposed, routedVersions(route));
    const weight = route.weights.find((w) => w.version === version)?.weight ?? 0;
    return { version, choice: { revision: route.revision, weight, reason: "sticky", stickyKey: key } };
  }

  /** The route of a name as this replica knows it. */
  async route(name: string): Promise<Route | undefined> {
    const cached = this.cache.get(name);
    if (cached && Date.now() - cached.at < MAX_AGE_MS) return cached.route;
    const generation = this.generation;
    const route = await this.reads.get(`${generation}\u0000${name}`, () => this.routes.route(name));
    // A change announced while we read may not be in what we read: don't keep it.
    if (generation === this.generation) {
      if (this.cache.size >= MAX_CACHED) this.cache.clear();
      this.cache.set(name, { route, at: Date.now() });
    }
    return route;
  }

  /** A route changed here or on another replica (all, without a name). */
  changed(name?: string): void {
    this.generation++;
    if (name) this.cache.delete(name);
    else this.cache.clear();
  }
}
