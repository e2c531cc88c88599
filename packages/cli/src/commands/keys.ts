// baton keys: API keys for a server that requires them. Through the server
// with an admin key (BATON_TOKEN / --token), or straight against its database
// with --database-url / BATON_DATABASE_URL — how the first admin key is made,
// since no key exists to ask the server with.
import { Command, Option } from "commander";
import { grpc } from "@baton/protocol";
import type { KeyRecord, CreateKeyResponse, ListKeysResponse, RevokeKeyResponse } from "@baton/server";
import { action } from "../cli/action.js";
import type { Context } from "../cli/context.js";
import { CliError, usage } from "../cli/exit.js";
import { table, time } from "../cli/output.js";
import { resolveDatabaseUrl, resolveToken } from "../cli/secrets.js";
import { loadServer } from "../cli/server-module.js";

const ROLES = ["admin", "publisher", "operator", "worker", "reader"];

interface Common {
  databaseUrl?: string;
  databaseUrlFile?: string;
  token?: string;
  tokenFile?: string;
}

/** The options every `keys` subcommand takes (they sit one level below where the global ones are added). */
function common(command: Command): Command {
  return command
    .option(
      "--database-url <url>",
      "manage keys directly in this database, without a server (env: BATON_DATABASE_URL; prefer it or --database-url-file: argv is visible to other users)",
    )
    .option("--database-url-file <file>", "read that database URL from a file, - for stdin")
    .addOption(new Option("-o, --output <format>", "result format: text or json (default: text)").choices(["text", "json"]))
    .addOption(new Option("--address <host:port>", "Baton server address (env: BATON_ADDRESS, default 127.0.0.1:7233)"))
    .addOption(new Option("--token <token>", "an admin key (env: BATON_TOKEN; prefer it or --token-file: argv is visible to other users)"))
    .addOption(new Option("--token-file <file>", "read the admin key from a file, - for stdin"));
}

/** The nearest --token-file or --token given on the command line, else BATON_TOKEN. */
function tokenOf(opts: Common, parents: Command[]): string | undefined {
  for (const o of [opts, ...parents.map((c) => c.opts<Common>())]) if (o.token || o.tokenFile !== undefined) return resolveToken(o);
  return resolveToken({});
}

/** Where keys are managed: the database (bootstrap) or the server. */
interface Keys {
  create(input: { role: string; name: string; taskTypes: string[] }): Promise<CreateKeyResponse>;
  list(includeRevoked: boolean): Promise<KeyRecord[]>;
  revoke(id: string): Promise<boolean>;
  close(): Promise<void>;
}

async function open(ctx: Context, opts: Common, parents: Command[]): Promise<Keys> {
  const url = resolveDatabaseUrl(opts);
  if (url) {
    const { openKeyRegistry, KeyError } = await loadServer("`baton keys --database-url`");
    let opened: Awaited<ReturnType<typeof openKeyRegistry>>;
    try {
      opened = await openKeyRegistry(url);
    } catch (error) {
      throw new CliError(`cannot open the database: ${(error as Error).message}`);
    }
    const { registry } = opened;
    const mapped = async <T>(fn: () => Promise<T>): Promise<T> => {
      try {
        return await fn();
      } catch (error) {
        if (error instanceof KeyError) throw error.code === "NOT_FOUND" ? new CliError(`not found: ${error.message}`) : usage(error.message);
        throw error;
      }
    };
    return {
      create: (input) => mapped(() => registry.create({ ...input, role: input.role as KeyRecord["role"], createdBy: "database" })),
      list: (includeRevoked) => mapped(() => registry.list({ includeRevoked })),
      revoke: (id) => mapped(() => registry.revoke(id)),
      close: () => opened.close(),
    };
  }
  const { callKeyService } = await loadServer("`baton keys`");
  const token = tokenOf(opts, parents);
  const call = <T>(method: "createKey" | "listKeys" | "revokeKey", request: object) =>
    ctx.call((client) => {
      const metadata = new grpc.Metadata();
      if (token) metadata.set("authorization", `Bearer ${token}`);
      return callKeyService<T>(client.channel, method, request, metadata);
    });
  return {
    create: (input) => call<CreateKeyResponse>("createKey", input),
    list: async (includeRevoked) => (await call<ListKeysResponse>("listKeys", { includeRevoked })).keys,
    revoke: async (id) => (await call<RevokeKeyResponse>("revokeKey", { id })).revoked,
    close: async () => {},
  };
}

function scope(key: KeyRecord): string {
  return key.role === "worker" ? key.taskTypes.join(",") : "-";
}

export function keysCommand(program: Command): void {
  const keys = program.command("keys").description("API keys: create (shown once), list, revoke — needs an admin key, or --database-url to bootstrap");

  common(
    keys
      .command("create")
      .description("create an API key and print it (the only time it is shown)")
      .addOption(new Option("--role <role>", "what the key may do").choices(ROLES).makeOptionMandatory())
      .option("--task-types <types>", 'worker keys: the task types it may poll and update, comma-separated ("*" for all)')
      .option("--name <name>", "a label for lists and logs (e.g. ci, encode-workers)"),
  ).action(
    action(async (ctx, opts: Common & { role: string; taskTypes?: string; name?: string }) => {
      const taskTypes = (opts.taskTypes ?? "")
        .split(",")
        .map((t) => t.trim())
        .filter((t) => t !== "");
      if (opts.role === "worker" && taskTypes.length === 0)
        throw usage('a worker key needs --task-types (e.g. --task-types encode,notify, or "*" for every type)');
      if (opts.role !== "worker" && taskTypes.length > 0) throw usage("--task-types is for worker keys only");
      const store = await open(ctx, opts, [keys, program]);
      try {
        const { key, record } = await store.create({ role: opts.role, name: opts.name ?? "", taskTypes });
        if (ctx.out.json) ctx.out.value({ ...record, key });
        else {
          ctx.out.line(key);
          ctx.out.progress(
            `created ${record.role} key ${record.id}${record.name ? ` (${record.name})` : ""}${record.role === "worker" ? ` for task types ${record.taskTypes.join(", ")}` : ""}; it is shown only now: store it as a secret`,
          );
        }
      } finally {
        await store.close();
      }
    }),
  );

  common(keys.command("list").description("list API keys (ids, roles, scopes; never secrets)").option("--all", "include revoked keys")).action(
    action(async (ctx, opts: Common & { all?: boolean }) => {
      const store = await open(ctx, opts, [keys, program]);
      try {
        const list = await store.list(opts.all === true);
        ctx.out.emit(list, () =>
          list.length === 0
            ? "no API keys"
            : table(
                ["ID", "NAME", "ROLE", "TASK TYPES", "CREATED", "REVOKED"],
                list.map((k) => [k.id, k.name || "-", k.role, scope(k), time(k.createdAt), k.revokedAt ? time(k.revokedAt) : "-"]),
              ),
        );
      } finally {
        await store.close();
      }
    }),
  );

  common(keys.command("revoke").description("revoke an API key: every server refuses it within a second").argument("<id>", "the key's id (bk_<id>_…)")).action(
    action(async (ctx, id: string, opts: Common) => {
      const keyId = /^bk_([a-z0-9]+)_/.exec(id)?.[1] ?? id;
      const store = await open(ctx, opts, [keys, program]);
      try {
        const revoked = await store.revoke(keyId);
        if (ctx.out.json) ctx.out.value({ id: keyId, revoked });
        else ctx.out.line(revoked ? `revoked ${keyId}` : `${keyId} was already revoked`);
      } finally {
        await store.close();
      }
    }),
  );
}
