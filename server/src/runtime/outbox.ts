// Effects of one run on another (start a child, tell a parent its child
// ended, terminate or retry a run), written to the outbox in the deciding
// transaction and carried out here, each as an event or start of its own.
// The item is deleted only after that committed: a crash in between repeats
// the effect once the item's lease runs out, which is harmless (starts are
// keyed by run id, and ended tasks ignore late events).
import { Refusal, type RunEvent, type StartRunRequest } from "../decider/decider.js";
import { TERMINAL_WORKFLOW, type JsonObject, type RunState } from "../decider/model.js";
import type { Clock } from "../clock.js";
import type { Logger } from "../logger.js";
import type { RunTarget, Store } from "../store/store.js";
import { TreeFull, type StartOptions } from "./contract.js";
import { childEndedItem } from "./write-plan.js";

/** A 'startRun' item's payload (write-plan.ts): the decider's request, and what the run that asked for it adds. */
type StartRunItem = StartRunRequest & { parentRunId: string; requesterRunId?: string; fairShare?: StartOptions["fairShare"] };

/** How long a taken outbox item stays invisible to other replicas. */
const OUTBOX_LEASE_MS = 30_000;

export interface OutboxDeps {
  store: Pick<Store, "takeOutbox" | "takeOutboxItems" | "finishOutbox" | "getRun">;
  clock: Clock;
  log: Logger;
  /** Where the effects go: the engine's own doors. `answerAtCommit`: no need to wait for the run's evaluations. */
  handle(target: RunTarget, event: RunEvent, options?: { answerAtCommit?: boolean }): Promise<unknown>;
  start(options: StartOptions): Promise<unknown>;
}

export class Outbox {
  /** Admissions going on with no caller waiting (admitInBackground). */
  private readonly admitting = new Set<Promise<void>>();

  constructor(private readonly deps: OutboxDeps) {}

  /** Starts, one after another and with no caller waiting, up to `max` runs freed slots admitted. */
  admitInBackground(max = 100): void {
    const done = (async () => {
      for (let n = 0; n < max && (await this.admitOne()); n++);
    })();
    this.admitting.add(done);
    void done.finally(() => this.admitting.delete(done));
  }

  /** Resolves once the admissions begun in the background so far are done (a settle's wait, in tests and on shutdown). */
  async admissionsDone(): Promise<void> {
    while (this.admitting.size > 0) await Promise.all([...this.admitting]);
  }

  /**
   * Carries out one outbox item (or the oldest, when no id is given) in its
   * own transaction: the item is deleted in the same transaction that applies
   * it, so it takes effect once.
   */
  async process(id?: number, kind?: string): Promise<boolean> {
    const item = await this.deps.store.takeOutbox(this.deps.clock.now(), OUTBOX_LEASE_MS, id, kind);
    if (!item) return false;
    await this.apply(item.kind, item.payload);
    await this.deps.store.finishOutbox([item.id]);
    return true;
  }

  /**
   * Carries out the given items (the caller's own, written together: starts
   * of runs, which do not depend on one another) at once: taken in one
   * statement, their starts decided and written together (the engine batches
   * starts that come together), and deleted in one statement. One at a time,
   * a parent's 40 children were 40 times a take, a start's transaction and a
   * delete, each waiting on the one before. Never rejects: an item that
   * failed stays, and a sweep carries it out once its lease ran out.
   */
  async processTogether(ids: number[]): Promise<void> {
    const items = await this.deps.store.takeOutboxItems(this.deps.clock.now(), OUTBOX_LEASE_MS, ids);
    const done: number[] = [];
    await Promise.all(
      items.map((item) =>
        this.apply(item.kind, item.payload).then(
          () => done.push(item.id),
          (error: unknown) => this.deps.log.warn({ err: error, outbox: item.id }, "outbox item failed; it will be retried"),
        ),
      ),
    );
    await this.deps.store.finishOutbox(done);
  }

  /** Starts the oldest run a freed slot admitted (its 'admitRun' item); false when none is left. Never rejects: the sweep retries a failure. */
  admitOne(): Promise<boolean> {
    return this.process(undefined, "admitRun").catch((error: unknown) => {
      this.deps.log.warn({ err: error }, "admitting a queued run failed; the sweep retries it");
      return false;
    });
  }

  private async apply(kind: string, payload: JsonObject): Promise<void> {
    const { handle } = this.deps;
    switch (kind) {
      case "startRun":
        return this.startRun(payload as unknown as StartRunItem);
      case "childEnded": {
        const p = payload as {
          parentRunId: string;
          taskId: string;
          childId: string;
          status: RunState["status"];
          output: JsonObject;
          reason: string;
          name?: string;
          version?: number;
        };
        const child = p.name !== undefined ? { name: p.name, ...(p.version !== undefined ? { version: p.version } : {}) } : {};
        await handle(p.parentRunId, {
          kind: "childEnded",
          taskId: p.taskId,
          childId: p.childId,
          status: p.status,
          output: p.output,
          reason: p.reason,
          ...child,
        }).catch(ignoreRefusal);
        return;
      }
      case "admitRun": {
        // A run queued behind its concurrency key got a slot (see store/concurrency.ts). Done once it
        // started: its first scripts are its own, and whoever admits runs goes on to the next meanwhile.
        const p = payload as { runId: string };
        await handle(p.runId, { kind: "admit" }, { answerAtCommit: true }).catch(ignoreRefusal);
        return;
      }
      case "terminateRun": {
        const p = payload as { runId: string; reason: string };
        await handle(p.runId, { kind: "terminate", reason: p.reason }).catch(ignoreRefusal);
        return;
      }
      case "retryRun": {
        const p = payload as { runId: string; resumeSubworkflowTasks: boolean };
        try {
          await handle(p.runId, { kind: "retry", resumeSubworkflowTasks: p.resumeSubworkflowTasks });
        } catch (error) {
          if (!(error instanceof Refusal)) throw error;
          // The child cannot be retried (it completed, or is gone): its parent must not wait for it forever.
          const child = await this.deps.store.getRun(p.runId, false);
          if (child && TERMINAL_WORKFLOW.has(child.run.status) && child.run.parentRunId && child.run.parentTaskId) {
            const { parentRunId, ...ended } = childEndedItem(child.run);
            await handle(parentRunId, { kind: "childEnded", ...ended }).catch(ignoreRefusal);
          }
        }
        return;
      }
      case "childRevived": {
        const p = payload as { parentRunId: string; taskId: string; childId: string };
        await handle(p.parentRunId, { kind: "childRevived", taskId: p.taskId, childId: p.childId }).catch(ignoreRefusal);
        return;
      }
    }
  }

  private async startRun(request: StartRunItem): Promise<void> {
    const { handle } = this.deps;
    // START_WORKFLOW waits to hear whether its run could be started.
    const reportStart = async (error: string, terminal = false) => {
      if (request.linked || !request.failTaskIfMissing || !request.requesterRunId) return;
      await handle(request.requesterRunId, {
        kind: "runStarted",
        taskId: request.failTaskIfMissing,
        childId: request.runId,
        error,
        ...(terminal ? { terminal } : {}),
      }).catch(ignoreRefusal);
    };
    try {
      await this.deps.start({
        name: request.name,
        ...(request.version !== undefined ? { version: request.version } : {}),
        ...(request.definition ? { definition: request.definition } : {}),
        input: request.input,
        correlationId: request.correlationId,
        priority: request.priority,
        runId: request.runId,
        parentRunId: request.parentRunId,
        parentTaskId: request.linked ? request.parentTaskId : "",
        depth: request.depth,
        // Items written before runs knew their tree start a run that is a root of its own.
        ...(request.root ? { tree: { root: request.root, ...(request.pastTreeBound ? { pastBound: true } : {}) } } : {}),
        ...(request.fairShare ? { fairShare: request.fairShare } : {}),
      });
    } catch (error) {
      if (!(error instanceof Refusal)) throw error;
      const terminal = error instanceof TreeFull;
      // Started already, and this item carried out again (its process died before deleting it): nothing was refused.
      if (terminal && (await this.deps.store.getRun(request.runId, false))) return reportStart("");
      await reportStart(error.message, terminal);
      // The child cannot start (no such definition): the waiting task fails.
      if (request.linked && request.parentRunId) {
        await handle(request.parentRunId, {
          kind: "childEnded",
          taskId: request.parentTaskId,
          childId: request.runId,
          status: "FAILED",
          output: {},
          reason: error.message,
          ...(terminal ? { terminal } : {}),
        }).catch(() => undefined);
      }
      this.deps.log.warn({ err: error, name: request.name }, "could not start a run requested by another run");
      return;
    }
    await reportStart("");
  }
}

function ignoreRefusal(error: unknown): void {
  if (!(error instanceof Refusal)) throw error;
}
