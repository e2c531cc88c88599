// Stack traces while the user's flows are evaluated. tsx turns source maps on,
// which is what we want for the user's .ts files (their lines, not the
// transpiled ones) but it also maps @baton/sdk's dist/*.js back to its src/*.ts,
// and the builder recognises its own frames by their dist/ path when it looks
// for the user's call site. So: user frames mapped, SDK frames left as they run.
import { findSourceMap } from "node:module";
import { fileURLToPath } from "node:url";
import { SDK_PACKAGE, packageOf } from "./packages.js";

function pathOf(file: string): string {
  const bare = file.replace(/\?.*$/, "");
  return bare.startsWith("file://") ? fileURLToPath(bare) : bare;
}

function frame(site: NodeJS.CallSite): string {
  const file = site.getFileName() ?? "";
  let where = `${file}:${site.getLineNumber() ?? 0}:${site.getColumnNumber() ?? 0}`;
  if (file && !file.startsWith("node:") && packageOf(pathOf(file)) !== SDK_PACKAGE) {
    const entry = findSourceMap(file)?.findEntry((site.getLineNumber() ?? 1) - 1, (site.getColumnNumber() ?? 1) - 1);
    if (entry && "originalSource" in entry && entry.originalSource) {
      where = `${pathOf(entry.originalSource)}:${entry.originalLine + 1}:${entry.originalColumn + 1}`;
    }
  }
  const fn = site.getFunctionName();
  return fn ? `    at ${fn} (${where})` : `    at ${where}`;
}

/** Runs `fn` with stack traces formatted as above. */
export async function withUserStacks<T>(fn: () => Promise<T>): Promise<T> {
  const previous = Error.prepareStackTrace;
  Error.prepareStackTrace = (error: Error, sites: NodeJS.CallSite[]) => [String(error), ...sites.map(frame)].join("\n");
  try {
    return await fn();
  } finally {
    Error.prepareStackTrace = previous;
  }
}
