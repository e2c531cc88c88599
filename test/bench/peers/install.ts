// Installs peers into the cache (~/.cache/baton-bench) from the registries,
// once: a second run finds them there.
import { createHash } from "node:crypto";
import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { cacheDir, errorText, runCommand, which } from "../lib/util.js";

/** npm packages into their own directory under the cache; returns that directory. */
export async function npmInstall(name: string, packages: Record<string, string>, log: (line: string) => void): Promise<string> {
  const dir = cacheDir(name);
  const installed = (pkg: string) => {
    try {
      return (JSON.parse(readFileSync(path.join(dir, "node_modules", pkg, "package.json"), "utf8")) as { version: string }).version;
    } catch {
      return undefined;
    }
  };
  if (Object.entries(packages).every(([pkg, version]) => installed(pkg) === version)) return dir;
  if (!existsSync(path.join(dir, "package.json")))
    writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: `baton-bench-${name}`, private: true }, null, 2));
  log(
    `  installing ${Object.entries(packages)
      .map(([p, v]) => `${p}@${v}`)
      .join(" ")} into ${dir} ...`,
  );
  const result = await runCommand(
    "npm",
    ["install", "--no-audit", "--no-fund", "--loglevel=error", "--save-exact", ...Object.entries(packages).map(([p, v]) => `${p}@${v}`)],
    {
      cwd: dir,
      timeoutMs: 15 * 60_000,
    },
  );
  if (result.code !== 0)
    throw new Error(`npm install failed (${result.timedOut ? "timed out" : `exit ${result.code}`}): ${(result.stderr || result.stdout).slice(-1500)}`);
  for (const [pkg, version] of Object.entries(packages)) {
    if (installed(pkg) !== version) throw new Error(`npm install did not leave ${pkg}@${version} in ${dir}`);
  }
  return dir;
}

/** A Debian package's binary, installing the package with apt-get when missing. */
export async function aptBinary(binary: string, pkg: string, log: (line: string) => void): Promise<string> {
  const found = which(binary) ?? which(`/usr/bin/${binary}`) ?? which(`/usr/sbin/${binary}`);
  if (found) return found;
  if (process.getuid?.() !== 0) throw new Error(`${binary} is missing and installing ${pkg} needs root (apt-get install -y ${pkg})`);
  log(`  apt-get install -y ${pkg} ...`);
  let r = await runCommand("apt-get", ["install", "-y", "-q", pkg], { env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" }, timeoutMs: 10 * 60_000 });
  if (r.code !== 0) {
    await runCommand("apt-get", ["update", "-q"], { timeoutMs: 10 * 60_000 });
    r = await runCommand("apt-get", ["install", "-y", "-q", pkg], { env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" }, timeoutMs: 10 * 60_000 });
  }
  const after = which(binary) ?? which(`/usr/bin/${binary}`) ?? which(`/usr/sbin/${binary}`);
  if (!after) throw new Error(`apt-get install ${pkg} failed: ${(r.stderr || r.stdout).slice(-1000)}`);
  return after;
}

/** `go install module@version` into the cache's bin directory; returns the binary. */
export async function goInstall(module: string, version: string, binary: string, log: (line: string) => void): Promise<string> {
  const bin = cacheDir("bin");
  const target = path.join(bin, binary);
  const stamp = path.join(bin, `${binary}.version`);
  if (existsSync(target) && existsSync(stamp) && readFileSync(stamp, "utf8").trim() === `${module}@${version}`) return target;
  if (!which("go")) throw new Error("go is not installed (needed to build the Temporal CLI)");
  log(`  go install ${module}@${version} (builds the CLI; several minutes the first time) ...`);
  const r = await runCommand("go", ["install", `${module}@${version}`], { env: { ...process.env, GOBIN: bin, GOFLAGS: "-mod=mod" }, timeoutMs: 40 * 60_000 });
  if (r.code !== 0 || !existsSync(target))
    throw new Error(`go install failed (${r.timedOut ? "timed out" : `exit ${r.code}`}): ${(r.stderr || r.stdout).slice(-1500)}`);
  writeFileSync(stamp, `${module}@${version}\n`);
  return target;
}

/**
 * `go build` of a Go module kept in this repository (its go.sum pins every
 * dependency, fetched from the Go module proxy) into the cache's bin
 * directory; rebuilt only when its sources change.
 */
export async function goBuild(moduleDir: string, binary: string, log: (line: string) => void): Promise<string> {
  const bin = cacheDir("bin");
  const target = path.join(bin, binary);
  const stamp = path.join(bin, `${binary}.sources`);
  const hash = createHash("sha256");
  for (const file of readdirSync(moduleDir)
    .filter((f) => /\.go$|^go\.(mod|sum)$/.test(f))
    .sort())
    hash.update(file).update(readFileSync(path.join(moduleDir, file)));
  const digest = hash.digest("hex");
  if (existsSync(target) && existsSync(stamp) && readFileSync(stamp, "utf8").trim() === digest) return target;
  if (!which("go")) throw new Error(`go is not installed (needed to build ${binary})`);
  log(`  go build ${path.relative(process.cwd(), moduleDir)} -> ${target} (a few minutes the first time) ...`);
  const r = await runCommand("go", ["build", "-o", target, "."], {
    cwd: moduleDir,
    env: { ...process.env, GOFLAGS: "-mod=readonly -buildvcs=false" },
    timeoutMs: 30 * 60_000,
  });
  if (r.code !== 0 || !existsSync(target))
    throw new Error(`go build of ${binary} failed (${r.timedOut ? "timed out" : `exit ${r.code}`}): ${(r.stderr || r.stdout).slice(-1500)}`);
  writeFileSync(stamp, `${digest}\n`);
  return target;
}

/** A Maven Central artifact copied into the cache; returns the file. */
export async function mavenArtifact(coordinates: string, file: string, log: (line: string) => void): Promise<string> {
  const dir = cacheDir("maven");
  const target = path.join(dir, file);
  if (existsSync(target)) return target;
  if (!which("mvn")) throw new Error("mvn is not installed (needed to fetch the artifact from Maven Central)");
  log(`  mvn dependency:copy ${coordinates} ...`);
  const r = await runCommand("mvn", ["-B", "-q", "dependency:copy", `-Dartifact=${coordinates}`, `-DoutputDirectory=${dir}`], { timeoutMs: 20 * 60_000 });
  if (r.code !== 0 || !existsSync(target)) throw new Error(`mvn dependency:copy ${coordinates} failed: ${(r.stdout + r.stderr).slice(-1500)}`);
  return target;
}

export { errorText };
