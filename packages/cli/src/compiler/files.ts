// Which files a path argument stands for: itself, or (a directory) every
// matching file under it, skipping node_modules and hidden directories.
import { readdirSync, statSync } from "node:fs";
import path from "node:path";
import { usage } from "../cli/exit.js";

export const isFlowSource = (file: string): boolean => /\.(c|m)?tsx?$/.test(file) && !/\.d\.(c|m)?ts$/.test(file) && !/\.(test|spec)\.(c|m)?tsx?$/.test(file);

export const isJson = (file: string): boolean => file.endsWith(".json");

/** Files under `dir` (recursively) that `keep` accepts, sorted. */
export function walk(dir: string, keep: (file: string) => boolean): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name === "node_modules" || entry.name.startsWith(".")) continue;
      out.push(...walk(full, keep));
    } else if (entry.isFile() && keep(full)) {
      out.push(full);
    }
  }
  return out;
}

/** Expands path arguments to absolute files; a missing path is a usage error. */
export function expand(paths: string[], keep: (file: string) => boolean, cwd = process.cwd()): string[] {
  const files = new Set<string>();
  for (const p of paths) {
    const full = path.resolve(cwd, p);
    let stat;
    try {
      stat = statSync(full);
    } catch {
      throw usage(`no such file or directory: ${p}`);
    }
    if (stat.isDirectory()) walk(full, keep).forEach((f) => files.add(f));
    else files.add(full);
  }
  return [...files];
}
