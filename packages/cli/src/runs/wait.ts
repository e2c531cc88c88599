// Waiting for a run to end, in server-side long waits (no client polling).
import type { BatonClient, ConductorWorkflow } from "@baton/client";
import { isEnded } from "./render.js";

const CHUNK_MS = 30_000;
/** After this long without an end, `stillRunning` is told once (e.g. to say no worker serves what the run waits on). */
const NOTICE_AFTER_MS = 3000;

/** Waits until the run ends or `timeoutMs` passes (forever when undefined); returns it as it is then. */
export async function waitForEnd(
  client: BatonClient,
  workflowId: string,
  timeoutMs: number | undefined,
  stillRunning?: (run: ConductorWorkflow) => Promise<void>,
): Promise<ConductorWorkflow> {
  const deadline = timeoutMs === undefined ? Infinity : Date.now() + timeoutMs;
  let noticed = stillRunning === undefined;
  for (;;) {
    const left = deadline - Date.now();
    const run = await client.waitWorkflow(workflowId, Math.max(0, Math.min(noticed ? CHUNK_MS : NOTICE_AFTER_MS, left)));
    if (isEnded(run.status) || Date.now() >= deadline) return run;
    if (!noticed) {
      noticed = true;
      await stillRunning?.(run);
    }
  }
}
