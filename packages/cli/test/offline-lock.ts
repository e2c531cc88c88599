// A package-lock.json for a project scaffolded by `baton init`, made from this
// repository's own lock: the same versions of every third-party package, whose
// tarballs `npm ci` in the repository left in npm's cache. With it, `npm
// install --offline` needs no registry (without it npm asks the registry for
// each package's metadata, which `npm ci` never fetched).
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";

interface LockEntry {
  version?: string;
  resolved?: string;
  integrity?: string;
  link?: boolean;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  dev?: boolean;
  devOptional?: boolean;
  peer?: boolean;
  optional?: boolean;
  [key: string]: unknown;
}

interface Manifest {
  name: string;
  version: string;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

export function offlineLock(repo: string, projectDir: string): object {
  const repoLock = JSON.parse(readFileSync(path.join(repo, "package-lock.json"), "utf8")) as { packages: Record<string, LockEntry> };
  const project = JSON.parse(readFileSync(path.join(projectDir, "package.json"), "utf8")) as Manifest;
  const packages: Record<string, LockEntry> = {
    "": {
      name: project.name,
      version: project.version,
      ...(project.dependencies ? { dependencies: project.dependencies } : {}),
      ...(project.devDependencies ? { devDependencies: project.devDependencies } : {}),
    },
  };
  // Where each @baton package lives in the repository (its workspace folder).
  const workspaceOf = new Map<string, string>();
  for (const [loc, entry] of Object.entries(repoLock.packages)) {
    if (entry.link && loc.startsWith("node_modules/@baton/") && entry.resolved) workspaceOf.set(loc.slice("node_modules/".length), entry.resolved);
  }

  /** Where npm's lookup finds `name` from `from` (a lock location): its own node_modules, then each enclosing one, then the root's. */
  const resolve = (name: string, from: string): string | undefined => {
    for (let dir = from; ;) {
      const loc = dir ? `${dir}/node_modules/${name}` : `node_modules/${name}`;
      if (repoLock.packages[loc] && !repoLock.packages[loc]!.link) return loc;
      if (!dir) return undefined;
      const up = dir.lastIndexOf("/node_modules/");
      dir = up >= 0 ? dir.slice(0, up) : "";
    }
  };
  /** A repository location as it sits in the project: a workspace's folder becomes node_modules/@baton/<name>. */
  const inProject = (loc: string): string => {
    for (const [name, folder] of workspaceOf) if (loc === folder || loc.startsWith(`${folder}/`)) return `node_modules/${name}${loc.slice(folder.length)}`;
    return loc;
  };

  const queue: [string, Record<string, string>][] = [];
  const edges = (entry: LockEntry): Record<string, string> => ({
    ...entry.dependencies,
    ...entry.optionalDependencies,
    ...Object.fromEntries(Object.entries(entry.peerDependencies ?? {}).filter(([n]) => !entry.peerDependenciesMeta?.[n]?.optional)),
  });
  for (const [name, spec] of Object.entries({ ...project.dependencies, ...project.devDependencies })) {
    if (spec.startsWith("file:")) {
      const folder = workspaceOf.get(name);
      if (!folder) throw new Error(`${name} is not a package of this repository`);
      const manifest = JSON.parse(readFileSync(path.join(repo, folder, "package.json"), "utf8")) as LockEntry & Manifest;
      const tarball = path.resolve(projectDir, spec.slice("file:".length));
      packages[`node_modules/${name}`] = {
        version: manifest.version,
        resolved: spec,
        integrity: `sha512-${createHash("sha512").update(readFileSync(tarball)).digest("base64")}`,
        ...(manifest.dependencies ? { dependencies: manifest.dependencies } : {}),
        ...(manifest.peerDependencies ? { peerDependencies: manifest.peerDependencies } : {}),
        ...(manifest.peerDependenciesMeta ? { peerDependenciesMeta: manifest.peerDependenciesMeta } : {}),
        ...(manifest["bin"] ? { bin: manifest["bin"] } : {}),
      };
      queue.push([folder, edges(manifest)]);
    } else {
      queue.push(["", { [name]: spec }]);
    }
  }
  while (queue.length > 0) {
    const [from, deps] = queue.shift()!;
    for (const name of Object.keys(deps)) {
      if (workspaceOf.has(name)) continue; // an @baton package: given as a tarball at the top
      const loc = resolve(name, from);
      if (!loc) continue; // an optional dependency for another platform
      const target = inProject(loc);
      if (packages[target]) continue;
      const { dev: _d, devOptional: _o, peer: _p, ...entry } = repoLock.packages[loc]!;
      packages[target] = entry;
      queue.push([loc, edges(entry)]);
    }
  }
  return { name: project.name, version: project.version, lockfileVersion: 3, requires: true, packages };
}
