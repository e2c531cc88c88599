// Prometheus series of routes, labelled by workflow and version: the weights
// in force and each version's health over the last hour, read from the
// database when scraped (at most once a second), and the guard's rollbacks.
import { Counter, Gauge, type Registry } from "prom-client";
import { within } from "../observability/within.js";
import type { RouteControl, VersionHealth } from "./control.js";
import type { Route } from "./route.js";

export interface RouteMetrics {
  rollbacks: Counter<"workflow">;
}

/** How long a scrape waits for the routes' health (as for the database sample). */
const ROUTES_SAMPLE_MS = 2000;

export function registerRouteMetrics(registry: Registry, list: () => Promise<Route[]>, control: RouteControl): RouteMetrics {
  const registers = [registry];
  let sample: Promise<{ route: Route; versions: VersionHealth[] }[]> | undefined;
  let sampledAt = -Infinity;
  /** A sample is being read: scrapes meanwhile wait for it rather than begin another beside it. */
  let reading = false;
  /** The last sample read whole: a scrape that cannot wait for the one being read is answered with it. */
  let last: { route: Route; versions: VersionHealth[] }[] = [];
  const fresh = () => {
    if (!sample || (!reading && performance.now() - sampledAt > 1000)) {
      sampledAt = performance.now();
      reading = true;
      // The routes, then every route's counts in one statement (a statement a route, thousands of routes a publisher set, before).
      sample = list().then((routes) => control.statusOf(routes, 3600));
      sample
        .then((read) => (last = read))
        .catch(() => {})
        .finally(() => (reading = false));
    }
    // Waited for as long as the database sample is (2 s): a lock on the runs held every scrape until it went.
    return within(
      sample.catch(() => last),
      ROUTES_SAMPLE_MS,
      () => last,
    );
  };
  const gauge = (name: string, help: string, value: (v: VersionHealth) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ["workflow", "version"],
      registers,
      async collect() {
        this.reset();
        for (const { route, versions } of await fresh()) {
          for (const v of versions) this.set({ workflow: route.name, version: String(v.version) }, value(v));
        }
      },
    });
  new Gauge({
    name: "baton_route_weight_percent",
    help: "Percent of starts without a version that a route sends to each version",
    labelNames: ["workflow", "version"],
    registers,
    async collect() {
      this.reset();
      for (const { route } of await fresh()) for (const w of route.weights) this.set({ workflow: route.name, version: String(w.version) }, w.weight);
    },
  });
  new Gauge({
    name: "baton_route_version_runs",
    help: "Runs of a routed workflow started in the last hour, by version and status",
    labelNames: ["workflow", "version", "status"],
    registers,
    async collect() {
      this.reset();
      for (const { route, versions } of await fresh()) {
        for (const v of versions) {
          const counts = { RUNNING: v.running, COMPLETED: v.completed, FAILED: v.failed, TIMED_OUT: v.timedOut, TERMINATED: v.terminated };
          for (const [status, n] of Object.entries(counts)) this.set({ workflow: route.name, version: String(v.version), status }, n);
        }
      }
    },
  });
  gauge("baton_route_version_failure_ratio", "Failed and timed-out runs over ended runs, last hour, per version of a routed workflow", (v) => v.failureRate);
  gauge("baton_route_version_duration_p50_seconds", "Median duration of ended runs, last hour, per version of a routed workflow", (v) => v.p50 / 1000);
  gauge("baton_route_version_duration_p99_seconds", "99th percentile duration of ended runs, last hour, per version of a routed workflow", (v) => v.p99 / 1000);
  return {
    rollbacks: new Counter({ name: "baton_route_rollbacks_total", help: "Routes rolled back by their guard", labelNames: ["workflow"], registers }),
  };
}
