// A worker of 32 slots whose handler records each task's tenant and keeps
// the slot of those `held` says until the test lets go: how the fair-claim
// tests see which slots a flood's claims fill.
import { Worker } from "@baton/client";
import type { Harness } from "../../support/harness.js";

export function holdingWorker(h: Harness, type: string, workerId: string, held: (tenant: string) => boolean) {
  const received: string[] = [];
  let letGo = () => {};
  const gate = new Promise<void>((resolve) => (letGo = resolve));
  const worker = new Worker({ address: h.server.address, workerId, onError: () => {} });
  worker.handle<{ tenant: string }>(
    type,
    async (input) => {
      received.push(input.tenant);
      if (held(input.tenant)) await gate;
      return {};
    },
    { concurrency: 32 },
  );
  worker.start();
  return {
    received,
    /** Lets the held tasks end and stops the worker. */
    stop: async () => {
      letGo();
      await worker.stop();
    },
  };
}
