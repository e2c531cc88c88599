// Secrets the CLI is given: API keys and database URLs with passwords. On the
// command line they are visible to every user of the machine (the process
// list) and stay in shell history, so each has an environment variable and a
// file form (`-` for stdin); given in argv anyway, it works and a warning says so.
import { readFileSync } from "node:fs";
import { usage } from "./exit.js";

/** Files already read: stdin can be read once, and several parts of a command ask. */
const read = new Map<string, string>();

/** The secret in `file` (`-`: stdin), without its trailing newline. */
export function readSecretFile(flag: string, file: string): string {
  const known = read.get(file);
  if (known !== undefined) return known;
  let text: string;
  try {
    text = readFileSync(file === "-" ? 0 : file, "utf8");
  } catch (error) {
    throw usage(`${flag}: cannot read ${file === "-" ? "stdin" : file}: ${(error as Error).message}`);
  }
  const secret = text.replace(/\r?\n$/, "");
  if (secret === "" || /[\r\n]/.test(secret)) throw usage(`${flag}: ${file === "-" ? "stdin" : file} must hold the secret alone, on one line`);
  read.set(file, secret);
  return secret;
}

const warned = new Set<string>();

/** Tells once per flag that a secret was given in argv, and how not to. */
export function warnSecretInArgv(flag: string, env: string, fileFlag: string): void {
  if (warned.has(flag)) return;
  warned.add(flag);
  process.stderr.write(
    `warning: ${flag} puts a secret on the command line, where other users of this machine can read it (the process list) and your shell history keeps it; use ${env} or ${fileFlag} <file> (- for stdin) instead\n`,
  );
}

/** The token: --token-file, else --token (with a warning), else BATON_TOKEN. */
export function resolveToken(options: { token?: string | undefined; tokenFile?: string | undefined }): string | undefined {
  if (options.tokenFile !== undefined) return readSecretFile("--token-file", options.tokenFile);
  if (options.token) {
    warnSecretInArgv("--token", "BATON_TOKEN", "--token-file");
    return options.token;
  }
  return process.env["BATON_TOKEN"] || undefined;
}

/** A database URL: --database-url-file, else --database-url (a warning when it holds a password), else BATON_DATABASE_URL. */
export function resolveDatabaseUrl(options: { databaseUrl?: string | undefined; databaseUrlFile?: string | undefined }): string | undefined {
  if (options.databaseUrlFile !== undefined) return readSecretFile("--database-url-file", options.databaseUrlFile);
  if (options.databaseUrl) {
    if (hasPassword(options.databaseUrl)) warnSecretInArgv("--database-url", "BATON_DATABASE_URL", "--database-url-file");
    return options.databaseUrl;
  }
  return process.env["BATON_DATABASE_URL"] || undefined;
}

function hasPassword(url: string): boolean {
  try {
    return new URL(url).password !== "";
  } catch {
    return true; // unreadable: assume the worst
  }
}

/** postgres://user:secret@host/db -> postgres://user:***@host/db, parsed as browsers do (a password may hold "@"). */
export function redactUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return "(a URL that cannot be parsed)";
  }
  if (parsed.password) parsed.password = "***";
  return parsed.toString();
}
