// Builds the console's static bundle into dist/: one hashed script and one
// hashed stylesheet under assets/, and index.html naming them. Everything the
// page needs is in the bundle (no CDN, system fonts only), so it works offline.
import { build } from "esbuild";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const out = path.join(here, "dist");
rmSync(out, { recursive: true, force: true });
mkdirSync(path.join(out, "assets"), { recursive: true });

const result = await build({
  entryPoints: { app: path.join(here, "src/main.tsx") },
  bundle: true,
  format: "esm",
  target: "es2022",
  platform: "browser",
  minify: true,
  sourcemap: "linked",
  jsx: "automatic",
  jsxImportSource: "preact",
  outdir: path.join(out, "assets"),
  entryNames: "[name]-[hash]",
  metafile: true,
  logLevel: "warning",
  legalComments: "linked",
});

const outputs = Object.keys(result.metafile.outputs).map((f) => "/" + path.relative(out, path.resolve(f)).split(path.sep).join("/"));
const script = outputs.find((f) => f.endsWith(".js"));
const style = outputs.find((f) => f.endsWith(".css"));
const html = readFileSync(path.join(here, "src/index.html"), "utf8")
  .replace("%SCRIPT%", script)
  .replace("%STYLE%", style ?? "");
writeFileSync(path.join(out, "index.html"), html);
writeFileSync(path.join(out, "favicon.svg"), readFileSync(path.join(here, "src/favicon.svg")));
