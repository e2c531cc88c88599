// Waiting for a run to end, in server-side long waits (no client polling).
import type { BatonClient, ConductorWorkflow } from "@baton/client";
import { isEnded } from "./render.js";

const CHUNK_MS = 30_000;

/** Waits until the run ends or `timeoutMs` passes (forever when undefined); returns it as it is then. */
export async function waitForEnd(client: BatonClient, workflowId: string, timeoutMs: number | undefined): Promise<ConductorWorkflow> {
  const deadline = timeoutMs === undefined ? Infinity : Date.now() + timeoutMs;
  for (;;) {
    const left = deadline - Date.now();
    const run = await client.waitWorkflow(workflowId, Math.max(0, Math.min(CHUNK_MS, left)));
    if (isEnded(run.status) || Date.now() >= deadline) return run;
  }
}
