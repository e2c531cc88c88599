// Real `baton-server` processes (server/dist/main.js) for fault tests: start,
// SIGKILL, restart on the same port, and keep what they logged.
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const serverMain = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../server/dist/main.js");

export interface ServerProc {
  child: ChildProcess;
  address: string;
  port: number;
  /** stderr lines (pino JSON) and stdout lines, as printed. */
  logs: string[];
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resident set size in kB, read from /proc (0 once gone). */
  rssKb(): number;
}

export async function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, host, () => {
      const address = srv.address();
      srv.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

export interface StartOptions {
  databaseUrl: string;
  port?: number;
  host?: string;
  logLevel?: string;
  env?: Record<string, string>;
  /** Run the process inside this network namespace (`ip netns exec`). */
  netns?: string;
  timeoutMs?: number;
}

export async function startServerProcess(options: StartOptions): Promise<ServerProc> {
  const port = options.port ?? (await freePort());
  const env = {
    ...process.env,
    BATON_DATABASE_URL: options.databaseUrl,
    BATON_PORT: String(port),
    BATON_HOST: options.host ?? "127.0.0.1",
    BATON_LOG_LEVEL: options.logLevel ?? "warn",
    ...options.env,
  };
  // BATON_FAULTS_PROFILE=<dir>: each server writes a V8 CPU profile there when it stops gracefully (SIGTERM, not SIGKILL).
  const profileDir = process.env["BATON_FAULTS_PROFILE"];
  const node = [process.execPath, ...(profileDir ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`] : []), serverMain];
  const [cmd, args] = options.netns ? ["ip", ["netns", "exec", options.netns, ...node]] : [node[0]!, node.slice(1)];
  const child = spawn(cmd, args, { env, stdio: ["ignore", "pipe", "pipe"] });
  const logs: string[] = [];
  const collect = (stream: NodeJS.ReadableStream) => {
    let rest = "";
    stream.on("data", (chunk: Buffer) => {
      rest += chunk.toString();
      const lines = rest.split("\n");
      rest = lines.pop() ?? "";
      for (const line of lines) if (logs.length < 20_000) logs.push(line);
    });
  };
  collect(child.stdout!);
  collect(child.stderr!);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  const address = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not listen in time; logs:\n${logs.slice(-20).join("\n")}`)), options.timeoutMs ?? 60_000);
    const onData = (chunk: Buffer) => {
      const match = /listening (\S+)/.exec(chunk.toString());
      if (match) {
        clearTimeout(timer);
        child.stdout!.off("data", onData);
        resolve(match[1]!);
      }
    };
    child.stdout!.on("data", onData);
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`server exited (${code ?? signal}) before listening; logs:\n${logs.slice(-20).join("\n")}`));
    });
  });
  return {
    child,
    address,
    port,
    logs,
    exited,
    rssKb() {
      try {
        const status = readFileSync(`/proc/${child.pid}/status`, "utf8");
        return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
      } catch {
        return 0;
      }
    },
  };
}

export async function stopServer(proc: ServerProc, signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
  if (proc.child.exitCode !== null || proc.child.signalCode !== null) return;
  proc.child.kill(signal);
  const timer = setTimeout(() => proc.child.kill("SIGKILL"), 15_000);
  await proc.exited;
  clearTimeout(timer);
}

/** Log lines at warn or above, parsed. */
export function warnings(proc: ServerProc): { level: number; msg: string; [k: string]: unknown }[] {
  const out = [];
  for (const line of proc.logs) {
    if (!line.startsWith("{")) continue;
    try {
      const entry = JSON.parse(line) as { level: number; msg: string };
      if (entry.level >= 40) out.push(entry);
    } catch {
      // not JSON
    }
  }
  return out;
}
