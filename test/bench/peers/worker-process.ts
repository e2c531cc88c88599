// A peer's workers in a process of their own (Temporal's Go worker,
// graphile-worker's runner), so they do not share the load generator's event
// loop and their CPU is reported as the workers'. They speak a line protocol
// on stdio:
//   worker -> driver: "READY"; "C <n> <n> …" completions so far per task type
//   (in the order the driver named them); "S <ms>" one dispatch stamp while
//   stamps are on; "F" once everything before a "flush" is printed.
//   driver -> worker: "stamps on", "stamps off", "flush"; stdin closed = stop.
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { createInterface } from "node:readline";
import { stopChild } from "../lib/util.js";
import { workerPids } from "./driver.js";

export interface WorkerProcess {
  /** Completions per task type, as the worker last reported them. */
  done: Map<string, number>;
  stampsOn(): void;
  /** Stops stamping and returns the stamps printed since stampsOn(). */
  stampsOff(): Promise<number[]>;
  stop(): Promise<void>;
}

export async function startWorkerProcess(what: string, command: string, args: string[], types: string[]): Promise<WorkerProcess> {
  const child: ChildProcessWithoutNullStreams = spawn(command, args, { stdio: ["pipe", "pipe", "pipe"] });
  workerPids.push(child.pid!);
  const done = new Map<string, number>();
  let stamps: number[] | undefined;
  let flushed: (() => void) | undefined;
  let errors = "";
  // Its complaints reach the log, the first 20 lines of them (the rest is kept for an exit's reason).
  let echoed = 0;
  createInterface({ input: child.stderr }).on("line", (line) => {
    errors = (errors + line + "\n").slice(-4000);
    if (echoed++ < 20) console.error(`  ${what}: ${line.slice(0, 400)}${echoed === 20 ? " (further lines not shown)" : ""}`);
  });
  let ready!: () => void;
  const isReady = new Promise<void>((r) => (ready = r));
  createInterface({ input: child.stdout }).on("line", (line) => {
    if (line.startsWith("C ")) {
      const counts = line.slice(2).split(" ").map(Number);
      types.forEach((type, i) => done.set(type, counts[i] ?? 0));
    } else if (line.startsWith("S ")) stamps?.push(Number(line.slice(2)));
    else if (line === "F") flushed?.();
    else if (line === "READY") ready();
  });
  const exited = new Promise<never>((_, reject) =>
    child.once("exit", (code, signal) => reject(new Error(`${what} exited with ${code ?? signal}: ${errors.slice(-1500)}`))),
  );
  exited.catch(() => {});
  await Promise.race([isReady, exited]);
  return {
    done,
    stampsOn() {
      stamps = [];
      child.stdin.write("stamps on\n");
    },
    async stampsOff() {
      child.stdin.write("stamps off\n");
      await Promise.race([
        new Promise<void>((resolve) => {
          flushed = resolve;
          child.stdin.write("flush\n");
        }),
        exited,
      ]);
      const out = stamps ?? [];
      stamps = undefined;
      return out;
    },
    async stop() {
      child.stdin.end();
      await stopChild(child, "SIGTERM", 10_000);
    },
  };
}
