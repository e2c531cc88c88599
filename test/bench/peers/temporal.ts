// Temporal: its server (go.temporal.io/server, `go install` into the cache) on
// the bench's PostgreSQL (peers/temporal-server.ts), workers in Go
// (`peers/temporal-worker`, built with `go build` into the cache against
// go.temporal.io/sdk) as Temporal's own load tests run them, and the Temporal
// CLI (to register the namespace). The driver starts workflows with the
// TypeScript client from npm (installed into the cache, not the repo, so
// `npm ci` for tests stays lean).
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { PeerContext, PeerUp } from "./index.js";
import { goBuild, goInstall, npmInstall } from "./install.js";
import { startTemporalServer } from "./temporal-server.js";

export const TEMPORAL_CLI = { module: "github.com/temporalio/cli/cmd/temporal", version: "v1.5.1" };
export const TEMPORAL_GO_SDK = "v1.51.0";
export const TEMPORAL_TS_CLIENT = "1.24.0";
const WORKER_MODULE = path.join(path.dirname(fileURLToPath(import.meta.url)), "temporal-worker");

export async function bringUpTemporal(ctx: PeerContext): Promise<PeerUp> {
  const log = ctx.options.log;
  // One after another: two Go builds at once on a small machine only slow each other.
  const cli = await goInstall(TEMPORAL_CLI.module, TEMPORAL_CLI.version, "temporal", log);
  const workerBinary = await goBuild(WORKER_MODULE, "temporal-bench-worker", log);
  const modulesDir = await npmInstall("npm-temporal-client", { "@temporalio/client": TEMPORAL_TS_CLIENT }, log);
  const server = await startTemporalServer(ctx, cli);
  return {
    modulesDir,
    endpoint: { address: server.address, workerBinary },
    serverPids: [server.pid],
    ...(ctx.cluster.postmasterPid ? { storePid: ctx.cluster.postmasterPid } : {}),
    facts: {
      version: `${server.facts["server"]}; Go SDK ${TEMPORAL_GO_SDK} workers; TS client ${TEMPORAL_TS_CLIENT}`,
      store: server.facts["store"],
      dynamicConfig: server.facts["dynamicConfig"],
    },
    down: () => server.down(),
  };
}
