// A fault worker in its own process (so it can run inside a network namespace):
// argv: address workerId. On SIGTERM it drains, then prints its ledger as one
// JSON line and exits.
import { Ledger, startFaultWorker } from "./workers.js";

const [address, workerId] = process.argv.slice(2) as [string, string];
const ledger = new Ledger();
let errors = 0;
const worker = startFaultWorker({ address, workerId, ledger, onError: () => void errors++ });
process.stdout.write("ready\n");
process.on("SIGTERM", () => {
  void worker.stop().then(() => {
    process.stdout.write(JSON.stringify({ received: [...ledger.received], updates: ledger.updates, handlerRuns: ledger.handlerRuns, errors }) + "\n", () =>
      process.exit(0),
    );
  });
});
