// One batch of events and starts, through its stages in one direction:
// load (load.ts: every read the decisions need) -> decide (decide.ts: pure)
// -> hand off and plan the write (hand-off.ts, write-plan.ts) -> write (the
// store, one statement) -> what is left for after commit (after-commit.ts,
// run by the engine once the transaction ended). Runs on the batch's
// transaction, or on the pool for a batch decided from memory, where the
// write alone finds out whether a run moved.
import { randomUUID } from "node:crypto";
import { admit, type Admission } from "../concurrency/admission.js";
import { slotForRevival } from "../concurrency/revival.js";
import { Refusal, type Decision, type RunEvent } from "../decider/decider.js";
import { fairShareOfRun } from "../fairness/key.js";
import { forgetTexts } from "../payload-text.js";
import type { LoadedRuns, Queryable, Store } from "../store/store.js";
import { runIdOf, type BatchResults, type EventItem, type StartItem } from "./batch-items.js";
import { TreeFull, type EngineHooks } from "./contract.js";
import { decideRun, decideStart, startInput, type RunDecided, type TaskIds } from "./decide.js";
import type { Definitions } from "./definitions.js";
import { handOff, type HandOff } from "./hand-off.js";
import type { Loader, RunToDecide } from "./load.js";
import type { RunMemory } from "./run-memory.js";
import type { EngineServices } from "./services.js";
import { emptyAfterCommit, emptyWrite, planWrite, type AfterCommit } from "./write-plan.js";

/**
 * Runs a batch decides, or plans the write of, in one turn of the event loop.
 * Under a flood a batch holds a hundred runs or more, tens of ms of work on a
 * loaded machine; in one turn, every reply that came meanwhile (a quiet key's
 * start written, its task handed over at commit and then written to a worker)
 * waited for all of it.
 */
export const RUNS_PER_TURN = 32;

/** Counts runs decided or planned, and lets the event loop take a turn after each RUNS_PER_TURN. */
function turns(): () => Promise<void> | undefined {
  let runs = 0;
  return () => (++runs % RUNS_PER_TURN === 0 ? new Promise<void>((resolve) => setImmediate(resolve)) : undefined);
}

/** `starts` whose trees have room for them, each counted there; the others are answered with TreeFull in `results`. */
async function withinTreeBounds(deps: PipelineDeps, q: Queryable, starts: StartItem[], results: BatchResults): Promise<StartItem[]> {
  const inTrees = starts.filter((item) => item.options.tree);
  if (inTrees.length === 0) return starts;
  const trees = inTrees.map((item) => ({ root: item.options.tree!.root, bounded: !item.options.tree!.pastBound }));
  const taken = await deps.store.takeTreeRuns(q, trees, deps.maxRunsPerTree);
  const refused = new Set(inTrees.filter((_, i) => !taken[i]));
  for (const item of refused) results.set(item, new TreeFull(item.options.tree!.root, deps.maxRunsPerTree));
  return refused.size === 0 ? starts : starts.filter((item) => !refused.has(item));
}

/** A batch decided from memory found memory behind (a refusal, a task to remove): it is decided again from the database. */
export class NotFromMemory extends Error {}

/** Starts in a batch found their run id or idempotency key taken: the batch rolls back and they are answered apart. */
export class StartConflict extends Error {
  constructor(readonly starts: StartItem[]) {
    super("run exists already");
  }
}

export interface PipelineDeps {
  store: Pick<Store, "putDef" | "writeBatch" | "takeSlot" | "takeTreeRuns" | "handOffRoom">;
  /** The most runs one run tree starts beside its root (store/run-trees.ts). */
  maxRunsPerTree: number;
  loader: Loader;
  definitions: Definitions;
  memory: RunMemory;
  services: EngineServices;
  reserveWorker: EngineHooks["reserveWorker"];
}

/** The batch written (not yet committed, when on a transaction): each item's answer and the work after commit. */
export interface BatchDone {
  results: BatchResults;
  after: AfterCommit;
}

export async function runBatch(
  deps: PipelineDeps,
  q: Queryable,
  loaded: LoadedRuns,
  events: EventItem[],
  startsAsked: StartItem[],
  now: number,
  handOffs: HandOff[],
  fromMemory: boolean,
): Promise<BatchDone> {
  const { loader, memory, services } = deps;
  memory.loaded(loaded.runs.values());
  const results: BatchResults = new Map();
  // Starts another run asked for count in its tree first: one its tree's bound refuses takes nothing else (a concurrency slot).
  const starts = await withinTreeBounds(deps, q, startsAsked, results);

  // Load.
  const groups = new Map<string, EventItem[]>();
  for (const item of events) {
    const runId = runIdOf(item, (taskId) => loaded.runOfTask.get(taskId));
    if (runId === undefined || !loaded.runs.has(runId)) {
      results.set(
        item,
        item.skipLocked ? undefined : new Refusal("NOT_FOUND", typeof item.target === "string" ? `no run ${item.target}` : `no task ${item.target.taskId}`),
      );
      continue;
    }
    const group = groups.get(runId);
    if (group) group.push(item);
    else groups.set(runId, [item]);
  }
  const runs: RunToDecide[] = [];
  for (const [runId, group] of groups) {
    const state = await loader.state(q, runId, loaded.runs.get(runId)!);
    runs.push(
      await loader.forRun(
        q,
        runId,
        state,
        group.map((item) => item.event),
      ),
    );
  }
  const startTaskDefs: RunToDecide["taskDefs"][] = [];
  for (const item of starts) startTaskDefs.push(await loader.forStart(q, item.resolved));
  // A start under a per-key limit of running runs takes its key's slot now, in this transaction.
  const runIds = starts.map((item) => item.options.runId ?? randomUUID());
  const admissions: (Admission | undefined)[] = [];
  for (const [i, item] of starts.entries()) {
    admissions.push(await admit(deps.store, q, item.resolved.def, startInput(item), item.options.correlationId ?? "", runIds[i]!));
  }

  // Decide. A refused event may have changed the state half way: it is
  // answered, and the run's other events are decided again from the stored state.
  const decided: { input: RunToDecide; result: RunDecided }[] = [];
  // Revivals over their key's limit, decided again as waiting (see concurrency/revival.ts); runs CANCEL_OLDEST ends.
  const replaced = new Map<EventItem, RunEvent>();
  const terminate: { byRun: string; payload: { runId: string; reason: string } }[] = [];
  const turn = turns();
  for (let input of runs) {
    await turn();
    const group = groups.get(input.runId)!;
    for (;;) {
      const live = group.filter((item) => !results.has(item));
      if (live.length === 0) break;
      const result = decideRun(input, live, now, services, (item) => replaced.get(item) ?? item.event);
      if (result.kind === "decided") {
        const revival = await slotForRevival(deps.store, q, result.decision, result.applied, async (hash) => (await deps.definitions.definition(hash, q)).def);
        if (revival?.slot.kind === "run") for (const payload of revival.slot.terminate) terminate.push({ byRun: input.runId, payload });
        if (!revival || revival.slot.kind === "run") {
          decided.push({ input, result });
          break;
        }
        const item = live[revival.index]!;
        if (revival.slot.kind === "wait") replaced.set(item, revival.slot.event);
        else results.set(item, revival.slot.error);
        if (fromMemory) throw new NotFromMemory();
        const state = await loader.reread(q, input.runId, input.state.rev);
        input = await loader.forRun(
          q,
          input.runId,
          state,
          live.filter((i) => !results.has(i)).map((i) => replaced.get(i) ?? i.event),
        );
        continue;
      }
      results.set(result.item, result.error);
      // Memory may be what is behind: answer only from the database.
      if (fromMemory) throw new NotFromMemory();
      const state = await loader.reread(q, input.runId, input.state.rev);
      input = await loader.forRun(
        q,
        input.runId,
        state,
        live.filter((item) => !results.has(item)).map((item) => item.event),
      );
    }
  }
  const started: { item: StartItem; taskDefs: RunToDecide["taskDefs"]; decision: Decision }[] = [];
  for (const [i, item] of starts.entries()) {
    await turn();
    started.push({ item, taskDefs: startTaskDefs[i]!, decision: decideStart(item, runIds[i]!, admissions[i], startTaskDefs[i]!, now, services) });
  }

  // Hand off and plan the write.
  const write = emptyWrite(now);
  const after = emptyAfterCommit(handOffs);
  // Each written as the doing of the run that caused it (a start, a revival): its callers wait for it.
  for (const [i, admission] of admissions.entries())
    for (const payload of admission?.terminate ?? []) write.outbox.push({ kind: "terminateRun", payload, runId: runIds[i]! });
  for (const { byRun, payload } of terminate) write.outbox.push({ kind: "terminateRun", payload, runId: byRun });
  const plan = (decision: Decision, taskDefs: RunToDecide["taskDefs"], existing: TaskIds, readRev: number | undefined) => {
    const { key } = fairShareOfRun(decision.run, deps.definitions.cached(decision.run.defHash));
    handOffs.push(...handOff(decision, now, taskDefs, deps.reserveWorker, (taskType) => deps.store.handOffRoom(taskType, key, decision.run.priority), key));
    planWrite(decision, existing, readRev, now, (hash) => deps.definitions.cached(hash), write, after);
  };
  for (const { input, result } of decided) {
    await turn();
    const { decision, applied, outcomes, existing } = result;
    plan(decision, input.taskDefs, existing, input.state.rev);
    after.decided.push({ decision, events: applied });
    after.keep.push({ runId: input.runId, rev: input.state.rev + 1, decision, existing });
    for (const [item, ok] of outcomes) results.set(item, { applied: ok, run: decision.run });
  }
  for (const { item, taskDefs, decision } of started) {
    await turn();
    plan(decision, taskDefs, new Set(), undefined);
    after.decided.push({ decision, events: [{ kind: "start" }] });
    // A new run's row starts at revision 0.
    after.keep.push({ runId: decision.run.id, rev: 0, decision, existing: new Set() });
    results.set(item, { runId: decision.run.id, created: true });
  }

  // Write. Removing tasks takes statements of their own: only a transaction keeps the batch one change.
  if (fromMemory && write.removed.length > 0) throw new NotFromMemory();
  for (const { options, resolved } of starts) {
    if (!options.definition) continue;
    await deps.store.putDef(q, resolved.hash, resolved.def, resolved.contentHash);
    // Its text was for hashing and writing it: a run held in memory does not keep the definition twice.
    forgetTexts([resolved.def]);
  }
  const { outbox, insertedRuns } = await deps.store.writeBatch(q, write, { allRunsNew: fromMemory });
  // Inserted nothing for a start whose id or idempotency key exists: its tasks must not stay either.
  const conflicts = starts.filter((item) => !insertedRuns.has((results.get(item) as { runId: string }).runId));
  if (conflicts.length > 0) throw new StartConflict(conflicts);
  after.outbox = outbox;
  return { results, after };
}
