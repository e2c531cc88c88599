// Builds and runs the Go and Java worker programs of test/polyglot (used by
// polyglot.test.ts and test/bench/polyglot.ts). Builds happen outside the
// work tree: Go into a temp dir (its build cache makes rebuilds quick), Java
// in one Maven reactor with a copy of packages/java, cached in the temp dir
// under a hash of every input, so only a change rebuilds it. Every process
// started here is killed when this process exits, and exits by itself when
// this process dies without a word (its stdin, a pipe from us, closes).
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const here = path.join(repoRoot, "test/polyglot");

/** Runs a build command, failing with its output when it fails. */
function run(command: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    child.on("error", (error) => reject(new Error(`${command} could not start: ${error.message}`)));
    child.on("close", (code) =>
      code === 0 ? resolve() : reject(new Error(`${command} ${args.join(" ")} failed (exit ${code}) in ${options.cwd}:\n${output.slice(-20_000)}`)),
    );
  });
}

let goBinary: Promise<string> | undefined;

/** `go build` of test/polyglot/go into a temp dir; the path of the binary. */
export function buildGoWorker(): Promise<string> {
  goBinary ??= (async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "baton-polyglot-go-"));
    process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
    const out = path.join(dir, "polyglot-worker");
    await run("go", ["build", "-buildvcs=false", "-o", out, "."], { cwd: path.join(here, "go") });
    return out;
  })();
  return goBinary;
}

function listFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const entry of readdirSync(dir).sort()) {
    const full = path.join(dir, entry);
    if (statSync(full).isDirectory()) {
      if (entry !== "target") out.push(...listFiles(full));
    } else out.push(full);
  }
  return out;
}

/** The Java build's inputs, relative to the repository root. */
function javaInputs(): string[] {
  return [
    path.join(repoRoot, "packages/java/pom.xml"),
    ...listFiles(path.join(repoRoot, "packages/java/src/main")),
    ...listFiles(path.join(repoRoot, "proto")),
    path.join(here, "java/pom.xml"),
    ...listFiles(path.join(here, "java/src")),
  ].map((f) => path.relative(repoRoot, f));
}

const AGGREGATOR = `<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.baton.test</groupId>
  <artifactId>polyglot-build</artifactId>
  <version>0.1.0</version>
  <packaging>pom</packaging>
  <modules>
    <module>packages/java</module>
    <module>test/polyglot/java</module>
  </modules>
</project>
`;

let javaClasspath: Promise<string> | undefined;

/** Removes Java builds of other inputs left from earlier days (about 60 MB each). */
function pruneJavaBuilds(): void {
  const dayAgo = Date.now() - 24 * 3600_000;
  for (const entry of readdirSync(tmpdir())) {
    if (!entry.startsWith("baton-polyglot-java-")) continue;
    const full = path.join(tmpdir(), entry);
    try {
      if (statSync(full).mtimeMs < dayAgo) rmSync(full, { recursive: true, force: true });
    } catch {
      // gone already
    }
  }
}

/**
 * Builds packages/java and test/polyglot/java in one Maven reactor (so
 * nothing needs installing into ~/.m2 first) from a copy of their sources in
 * the temp dir, and returns the worker's class path. Reused while the inputs
 * are unchanged.
 */
export function buildJavaWorker(): Promise<string> {
  javaClasspath ??= (async () => {
    const files = javaInputs();
    const hash = createHash("sha256");
    for (const file of files)
      hash
        .update(file)
        .update("\0")
        .update(readFileSync(path.join(repoRoot, file)))
        .update("\0");
    const dir = path.join(tmpdir(), `baton-polyglot-java-${hash.digest("hex").slice(0, 20)}`);
    const classpath = (root: string) =>
      [path.join(root, "test/polyglot/java/target/classes"), path.join(root, "test/polyglot/java/target/lib/*")].join(path.delimiter);
    if (existsSync(path.join(dir, "built"))) return classpath(dir);

    const work = mkdtempSync(`${dir}.tmp-`);
    try {
      for (const file of files) {
        mkdirSync(path.dirname(path.join(work, file)), { recursive: true });
        cpSync(path.join(repoRoot, file), path.join(work, file));
      }
      writeFileSync(path.join(work, "pom.xml"), AGGREGATOR);
      await run("mvn", ["-B", "-q", "-ntp", "-Dstyle.color=never", "-f", path.join(work, "pom.xml"), "package", "-DskipTests"], { cwd: work });
      writeFileSync(path.join(work, "built"), new Date().toISOString());
      pruneJavaBuilds();
      try {
        renameSync(work, dir);
      } catch (error) {
        // Another process built the same inputs at the same time: use theirs.
        if (!existsSync(path.join(dir, "built"))) throw error;
        rmSync(work, { recursive: true, force: true });
      }
    } catch (error) {
      rmSync(work, { recursive: true, force: true });
      throw error;
    }
    return classpath(dir);
  })();
  return javaClasspath;
}

export type Lang = "go" | "java" | "ts";

export interface WorkerEvent {
  event: string;
  [key: string]: unknown;
}

/** A worker program running as a child process. */
export class WorkerProcess {
  readonly events: WorkerEvent[] = [];
  private stderrTail = "";
  private readonly listeners = new Set<() => void>();
  readonly exited: Promise<number | null>;

  constructor(
    readonly lang: Lang,
    readonly workerId: string,
    readonly child: ChildProcess,
  ) {
    live.add(this);
    createInterface({ input: child.stdout! }).on("line", (line) => {
      try {
        this.events.push(JSON.parse(line) as WorkerEvent);
      } catch {
        this.events.push({ event: "text", line });
      }
      for (const listener of this.listeners) listener();
    });
    child.stderr!.on("data", (d: Buffer) => {
      this.stderrTail = (this.stderrTail + d.toString()).slice(-20_000);
      if (process.env["POLYGLOT_VERBOSE"]) process.stderr.write(`[${workerId}] ${d.toString()}`);
    });
    this.exited = new Promise((resolve) => {
      child.on("exit", (code, signal) => {
        live.delete(this);
        for (const listener of this.listeners) listener();
        resolve(code ?? (signal ? -1 : null));
      });
    });
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** What the program wrote on stderr lately (for failure messages). */
  get stderr(): string {
    return this.stderrTail;
  }

  /** Waits for an event line that matches, failing if the process exits first. */
  waitFor(match: (event: WorkerEvent) => boolean, timeoutMs = 60_000): Promise<WorkerEvent> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.events.find(match);
        if (found) return done(() => resolve(found));
        if (!this.running) return done(() => reject(new Error(`${this.workerId} exited before the awaited event; stderr:\n${this.stderrTail}`)));
      };
      const timer = setTimeout(
        () => done(() => reject(new Error(`${this.workerId}: no such event in ${timeoutMs} ms; stderr:\n${this.stderrTail}`))),
        timeoutMs,
      );
      const done = (then: () => void) => {
        clearTimeout(timer);
        this.listeners.delete(check);
        then();
      };
      this.listeners.add(check);
      check();
    });
  }

  /** SIGKILL: the process dies at once, holding whatever it holds. */
  async kill(): Promise<void> {
    if (this.running) this.child.kill("SIGKILL");
    await this.exited;
  }

  /** SIGTERM (the programs drain and exit), SIGKILL if that takes too long. */
  async stop(graceMs = 15_000): Promise<void> {
    if (this.running) this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

const live = new Set<WorkerProcess>();
process.on("exit", () => {
  for (const worker of live) worker.child.kill("SIGKILL");
});

export interface StartOptions {
  address: string;
  workerId: string;
  /** The benchmark task's concurrency. */
  concurrency?: number;
  env?: NodeJS.ProcessEnv;
}

function workerEnv(options: StartOptions): NodeJS.ProcessEnv {
  return {
    ...process.env,
    BATON_ADDRESS: options.address,
    POLY_WORKER_ID: options.workerId,
    // Their stdin is a pipe from us: when we die, however, they exit.
    POLY_EXIT_WITH_PARENT: "1",
    ...(options.concurrency ? { POLY_CONCURRENCY: String(options.concurrency) } : {}),
    ...options.env,
  };
}

export async function startGoWorker(options: StartOptions): Promise<WorkerProcess> {
  const binary = await buildGoWorker();
  const child = spawn(binary, [], { env: workerEnv(options), stdio: ["pipe", "pipe", "pipe"] });
  return new WorkerProcess("go", options.workerId, child);
}

export async function startJavaWorker(options: StartOptions & { jvmArgs?: string[] }): Promise<WorkerProcess> {
  const classpath = await buildJavaWorker();
  const java = process.env["JAVA_HOME"] ? path.join(process.env["JAVA_HOME"], "bin", "java") : "java";
  const child = spawn(java, [...(options.jvmArgs ?? []), "-cp", classpath, "dev.baton.polyglot.PolyglotWorker"], {
    env: workerEnv(options),
    stdio: ["pipe", "pipe", "pipe"],
  });
  return new WorkerProcess("java", options.workerId, child);
}

/** The TypeScript worker program (test/polyglot/ts/worker.ts, the benchmark's) in its own process. */
export async function startTsWorker(options: StartOptions): Promise<WorkerProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", path.join(here, "ts/worker.ts")], {
    cwd: repoRoot,
    env: workerEnv(options),
    stdio: ["pipe", "pipe", "pipe"],
  });
  return new WorkerProcess("ts", options.workerId, child);
}

export function startWorker(lang: Lang, options: StartOptions & { jvmArgs?: string[] }): Promise<WorkerProcess> {
  return lang === "go" ? startGoWorker(options) : lang === "java" ? startJavaWorker(options) : startTsWorker(options);
}

/** Stops every worker process still running. */
export async function stopAllWorkers(): Promise<void> {
  await Promise.all([...live].map((w) => w.stop()));
}
