// The flow the fair-claim tests queue work through: one SIMPLE task, its run
// keyed by the input's tenant, which the task gets as input (so a claim's
// tasks say whose they are), with any other input fields a test names.
import type { BatonClient } from "@baton/client";

/** Registers task type `type` (a lease of an hour: claimed tasks stay claimed) and a flow of that name running one such task, keyed by tenant. */
export async function registerTenantFlow(client: BatonClient, type: string, alsoInput: string[] = []): Promise<void> {
  const input = Object.fromEntries(["tenant", ...alsoInput].map((field) => [field, `\${workflow.input.${field}}`]));
  await client.registerTaskDefs([{ name: type, retryCount: 0, responseTimeoutSeconds: 3600 }]);
  await client.registerWorkflowDef({
    name: type,
    version: 1,
    schemaVersion: 2,
    fairnessKey: "${workflow.input.tenant}",
    tasks: [{ name: type, taskReferenceName: "work", type: "SIMPLE", inputParameters: input }],
  });
}
