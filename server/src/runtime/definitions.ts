// The definitions a decision needs, cached in memory: workflow definitions by
// content hash (immutable, read again only once evicted), the latest version
// of each workflow, the versions starts name, and task definitions (cleared
// when a change is announced with NOTIFY, on every replica). Each cache is bounded in bytes and
// entries (byte-caches.ts): a definition may be 4 MiB. Also resolves which
// definition a start runs.
import { shortened, stringifyJson } from "@baton/json";
import type { TaskDef, WorkflowDef } from "@baton/sdk";
import { Refusal } from "../decider/decider.js";
import { graphFor, type Graph } from "../decider/graph.js";
import type { RouteChoice, TaskState } from "../decider/model.js";
import type { Queryable, Store } from "../store/store.js";
import type { StartOptions, VersionChooser } from "./contract.js";
import { definitionProblems } from "../service/definition-checks.js";
import { payloadText } from "../payload-text.js";
import { byteCache, jsonCharge } from "../byte-caches.js";
import { SharedReads } from "../store/coalesced-read.js";
import type { Queries } from "../sandbox/queries.js";

export type DefinitionStore = Pick<Store, "defByHash" | "taskDefs" | "workflowDef" | "findWorkflowDef">;

export interface ResolvedDefinition {
  def: WorkflowDef;
  hash: string;
  /** Known for a definition given inline (its hashes computed together). */
  contentHash?: string;
  version: number;
  route?: RouteChoice;
}

/** Bytes (as charged by jsonCharge) and entries each definition cache may hold. */
const DEFINITION_CACHE_BYTES = 128 * 1024 * 1024;
const DEFINITION_CACHE_ENTRIES = 10_000;
/** A task definition known not to exist (lru-cache keeps no undefined). */
const NO_TASK_DEF = Object.freeze({}) as unknown as TaskDef;

type Latest = { def: WorkflowDef; hash: string; version: number };

export class Definitions {
  private readonly byHash = byteCache<string, WorkflowDef>("definitions", {
    maxBytes: DEFINITION_CACHE_BYTES,
    maxEntries: DEFINITION_CACHE_ENTRIES,
    sizeOf: (def) => jsonCharge(def),
  });
  private readonly taskDefCache = byteCache<string, TaskDef>("task definitions", {
    maxBytes: DEFINITION_CACHE_BYTES,
    maxEntries: DEFINITION_CACHE_ENTRIES * 10,
    sizeOf: (def, name) => jsonCharge(def) + 2 * name.length,
  });
  private readonly latestDefs = byteCache<string, Latest>("latest definitions", {
    maxBytes: DEFINITION_CACHE_BYTES,
    maxEntries: DEFINITION_CACHE_ENTRIES,
    sizeOf: (latest) => jsonCharge(latest.def),
  });
  /** Versions named by starts (Conductor's clients name one), by `name\u0000version`. */
  private readonly versionDefs = byteCache<string, Latest>("definitions by version", {
    maxBytes: DEFINITION_CACHE_BYTES,
    maxEntries: DEFINITION_CACHE_ENTRIES,
    sizeOf: (found) => jsonCharge(found.def),
  });
  private workflowDefGeneration = 0;
  /**
   * Reads that starts arriving together share: of the latest version (by name) and of a version (by
   * `name\u0000version`), each under the generation it began in, so none begun before a change answers a start after it.
   */
  private readonly reads = new SharedReads<Latest | undefined>();
  private taskDefGeneration = 0;

  constructor(
    private readonly store: DefinitionStore,
    /** Where an inline definition's inputSchema is compiled (definition-checks.ts). */
    private readonly queries: Queries,
    /** Chooses the version of a start that names none, when its workflow has a route. */
    private readonly router?: VersionChooser,
  ) {}

  /** A definition by content hash; immutable, so cached until evicted. */
  async definition(hash: string, q?: Queryable): Promise<{ def: WorkflowDef; graph: Graph }> {
    let def = this.byHash.get(hash);
    if (!def) {
      // Inside an event, through its own connection: a second one from the
      // pool could wait forever while every connection holds a run lock.
      def = await this.store.defByHash(hash, q);
      if (!def) throw new Error(`definition ${hash} is missing`);
      this.byHash.set(hash, def);
    }
    return { def, graph: graphFor(hash, def) };
  }

  /** The latest version of a workflow as a transaction sees it (a restart on the latest definition): not cached. */
  async latestIn(tx: Queryable, name: string): Promise<(ResolvedDefinition & { graph: Graph }) | undefined> {
    const latest = await this.store.workflowDef(tx, name);
    return latest ? { def: latest.def, hash: latest.hash, version: latest.version, graph: graphFor(latest.hash, latest.def) } : undefined;
  }

  /** A definition by hash if it was read before (no I/O). */
  cached(hash: string): WorkflowDef | undefined {
    return this.byHash.get(hash);
  }

  /**
   * Task definitions a run may need. Cached in memory: a change is announced
   * with NOTIFY baton_taskdefs and clears the cache on every replica.
   */
  async taskDefsFor(tx: Queryable, def: WorkflowDef, tasks: TaskState[]): Promise<Map<string, TaskDef>> {
    const names = new Set<string>(tasks.map((t) => t.defName));
    const walk = (list: WorkflowDef["tasks"]) => {
      for (const t of list) {
        names.add(t.name);
        t.forkTasks?.forEach(walk);
        Object.values(t.decisionCases ?? {}).forEach(walk);
        if (t.defaultCase) walk(t.defaultCase);
        if (t.loopOver) walk(t.loopOver);
      }
    };
    walk(def.tasks);
    const result = new Map<string, TaskDef>();
    const missing: string[] = [];
    for (const name of names) {
      const d = this.taskDefCache.get(name);
      if (d === undefined) missing.push(name);
      else if (d !== NO_TASK_DEF) result.set(name, d);
    }
    if (missing.length > 0) {
      const generation = this.taskDefGeneration;
      const found = await this.store.taskDefs(tx, missing);
      for (const name of missing) {
        const d = found.get(name);
        if (d) result.set(name, d);
        if (generation === this.taskDefGeneration) this.taskDefCache.set(name, d ?? NO_TASK_DEF);
      }
    }
    return result;
  }

  /**
   * The latest version of a workflow, cached: a new version is announced
   * with NOTIFY baton_workflow_defs at its commit and clears the entry on
   * every replica, so starts by name cost no query.
   */
  private async latestDefinition(name: string): Promise<Latest | undefined> {
    const cached = this.latestDefs.get(name);
    if (cached) return cached;
    const generation = this.workflowDefGeneration;
    const found = await this.reads.get(`${generation}\u0000${name}`, () => this.store.findWorkflowDef(name));
    if (found && generation === this.workflowDefGeneration) this.latestDefs.set(name, found);
    return found;
  }

  /**
   * A version of a workflow, cached as the latest is: a version can be
   * overwritten or deleted, and that is announced the same way.
   */
  private async versionDefinition(name: string, version: number): Promise<Latest | undefined> {
    const key = `${name}\u0000${version}`;
    const cached = this.versionDefs.get(key);
    if (cached) return cached;
    const generation = this.workflowDefGeneration;
    const found = await this.reads.get(`${generation}\u0000${key}`, () => this.store.findWorkflowDef(name, version));
    if (found && generation === this.workflowDefGeneration) this.versionDefs.set(key, found);
    return found;
  }

  /** Forgets the cached versions of a workflow (of all, without a name): it changed here or on another replica. */
  workflowDefsChanged(name?: string): void {
    if (name) {
      this.latestDefs.delete(name);
      for (const key of [...this.versionDefs.keys()]) if (key.startsWith(`${name}\u0000`)) this.versionDefs.delete(key);
    } else {
      this.latestDefs.clear();
      this.versionDefs.clear();
    }
    this.workflowDefGeneration++;
  }

  /** Forgets cached task definitions (one changed here or on another replica). */
  taskDefsChanged(): void {
    this.taskDefCache.clear();
    this.taskDefGeneration++;
  }

  /** The definition a start runs: given inline, the version asked for, the one its route chooses, or the latest. */
  async forStart(options: StartOptions): Promise<ResolvedDefinition> {
    if (options.definition) {
      const def = options.definition;
      const { describeIssues } = await import("@baton/sdk");
      // Read again from its text and checked in the queries pool: at 4 MiB the SDK's checks, the listing of its expressions and its hashes each held the serving thread for 100-300 ms.
      const checked = await this.queries.checkDefinition("definition_json", payloadText(def) ?? stringifyJson(def), Infinity);
      if (typeof checked === "string") throw new Refusal("INVALID_ARGUMENT", `invalid inline definition: ${checked}`);
      const errors = checked.errors.length > 0 ? checked.errors : await definitionProblems(checked, this.queries);
      if (errors.length > 0) {
        throw new Refusal("INVALID_ARGUMENT", `invalid inline definition: ${describeIssues(errors)}`);
      }
      return { def, hash: checked.hash, contentHash: checked.contentHash, version: def.version ?? 1 };
    }
    const routed =
      options.version === undefined
        ? await this.router?.choose({ name: options.name, input: options.input, correlationId: options.correlationId ?? "" })
        : undefined;
    const version = routed?.version ?? options.version;
    const found = version === undefined ? await this.latestDefinition(options.name) : await this.versionDefinition(options.name, version);
    if (!found) {
      throw new Refusal("NOT_FOUND", `no workflow definition ${shortened(options.name)}${version !== undefined ? ` version ${version}` : ""}`);
    }
    return routed ? { ...found, route: routed.choice } : found;
  }
}
