#!/usr/bin/env node
// `npm run pack`: the TypeScript packages as versioned tarballs
// (packs/baton-sdk-0.1.0.tgz, ...), for projects outside this repository to
// install without a registry; `baton init` scaffolds a project that uses them.
// Usage: node scripts/pack.mjs [destination]   (run `npm run build` first)
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const destination = path.resolve(process.argv[2] ?? path.join(root, "packs"));
const workspaces = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8")).workspaces;

for (const workspace of workspaces) {
  if (!existsSync(path.join(root, workspace, "dist"))) {
    process.stderr.write(`error: ${workspace} is not built (no dist/): run \`npm run build\` first\n`);
    process.exit(1);
  }
}
mkdirSync(destination, { recursive: true });
const npm = process.platform === "win32" ? "npm.cmd" : "npm";
const packed = JSON.parse(
  execFileSync(npm, ["pack", "--json", "--pack-destination", destination, ...workspaces.flatMap((w) => ["--workspace", w])], {
    cwd: root,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  }),
);
for (const p of packed) process.stdout.write(`${path.join(destination, p.filename)}  (${p.name} ${p.version}, ${(p.size / 1024).toFixed(0)} kB)\n`);
const shown = path.relative(process.cwd(), destination);
process.stderr.write(`next: npx baton init <dir> --packages ${shown && !shown.startsWith("..") ? shown : destination}\n`);
