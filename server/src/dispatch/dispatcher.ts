// Hands ready tasks to waiting workers the moment they are ready. Workers wait
// on a stream with credits (or a long poll); when tasks of a type become ready
// (a local commit, or NOTIFY from another replica) the dispatcher claims at
// most as many as the waiting workers have credits for, and pushes them.
//
// While keyed tasks of a type are queued (fair claims, store/fair-claim.ts),
// claims leave a few of each stream's slots free: they are for tasks of keys
// with nothing queued, handed over at commit (runtime/hand-off.ts), and for a
// key whose few queued tasks fit in them, claimed (its task found the room
// taken at commit; its next tasks are handed over past it, fair-claim.ts's
// handOffRoom).
// Without them a flood holds every slot, and a quiet key's task waits first
// for a slot to come back, then for its turn in a claim. With them taken, a
// quiet key's task may still take the place of one a stream holds unwritten
// for a key with more there (reserve), and a key with a few tasks queued is
// claimed into such a stream the same way (swapIn). With none unwritten
// either (the worker keeps up: the stream wrote the flood's last claim at
// once), it is owed the stream's next free slot, ahead of any claim, for a
// second at most. A stream owes up to half its slots: the next claims' turns
// would give the quiet keys' few tasks as much. Owing only its quiet room
// (two slots of 64), a burst of a small key's starts written in one batch
// found it taken under the fairness bench's flood, and the rest of the burst
// waited 32-101 ms in the queue while the worker freed no slot.
//
// What a wake costs follows the tasks there are, not what workers wait on: a
// type whose last claim found nothing is not claimed for again on credits
// until its tasks may be ready (drained), the sweep claims only for types the
// queue has ready tasks of, and a claim looks only at waiters with credits
// (hungry). A worker key's thousands of streams each naming a hundred types
// made every sweep a claim per type, and other keys' tasks waited seconds.
import { randomUUID } from "node:crypto";
import type { Clock } from "../clock.js";
import type { ClaimedTask, ClaimLimits, Store } from "../store/store.js";
import type { Reservation } from "../runtime/engine.js";
import type { Logger } from "../logger.js";

export interface Waiter {
  taskTypes: string[];
  workerId: string;
  /** How many more tasks this waiter accepts. */
  credits: number;
  /**
   * Takes only what is ready now: once a claim for its type finds no more
   * than it took, a waiter still without tasks is answered with none
   * (a poll that does not wait, e.g. the next task of Conductor's update-v2).
   */
  noWait?: boolean;
  /** A dispatch stream: it stays after a delivery, and its worker grants a credit for each slot it frees. */
  stream?: boolean;
  deliver(tasks: ClaimedTask[]): void;
  /** A stream with no slot free: whether it would give up a task it holds unwritten for one of `key` (StreamSender.yields). */
  yields?(key: string): boolean;
  /** Takes `task` in place of one it holds unwritten, which goes back to the queue; false when it holds none it would give up now. */
  swap?(task: ClaimedTask): boolean;
  /** How many tasks of a key holding none here it would take by swaps (StreamSender.spare). */
  spare?(): number;
}

/** The most one claim takes. */
const MAX_CLAIM = 64;
/** The share of a stream's slots (rounded down: none below 32) fair claims leave to keys with nothing queued. */
const QUIET_SHARE = 1 / 32;
/** How long a task handed over at commit waits for its stream's next free slot (owed) before it goes back to the queue. */
const OWED_MS = 1000;

/** A task handed over at commit to a stream with no slot free, waiting for the next one its worker frees. */
interface Owed {
  task: ClaimedTask;
  /** When it was owed (the server's clock). */
  since: number;
}

export interface DispatcherHooks {
  /** Tasks claimed from the queue here, as claimed, at `claimedAt` (the engine keeps its memory of their runs current; metrics). */
  claimed?(tasks: ClaimedTask[], claimedAt: number): void;
}

export class Dispatcher {
  private readonly waiters = new Map<string, Set<Waiter>>();
  /** Per type, its waiters that may have credits, in turn (round-robin); one found with none left is dropped as it is met. */
  private readonly hungry = new Map<string, Set<Waiter>>();
  /** Waiters added and not removed. */
  private readonly present = new WeakSet<Waiter>();
  /** Types whose last claim found no task, with none made ready since: credits and new waiters claim nothing for them. */
  private readonly drained = new Set<string>();
  /** Types made ready since their last claim went out (a claim that comes back empty then does not drain them). */
  private readonly fresh = new Set<string>();
  private sweeping = false;
  /** Task types with a claim pass running, and whether another pass is owed. */
  private readonly running = new Map<string, boolean>();
  /** Waiters a claim is out for. */
  private readonly claiming = new Set<Waiter>();
  private readonly limitCache = new Map<string, { limits: ClaimLimits; until: number }>();
  /** Per stream: tasks handed to it that its worker has not credited back yet (with its credits, the worker's slots). */
  private readonly held = new WeakMap<Waiter, number>();
  /** Streams that gave back tasks claimed into them by swaps, until their next credit (swapIn). */
  private readonly refused = new WeakSet<Waiter>();
  /** Per stream: tasks handed over at commit that take its next free slots, highest priority first (see owe). */
  private readonly owed = new Map<Waiter, Owed[]>();
  /** Per stream: its owed tasks and its reservations for more not delivered yet. */
  private readonly owing = new WeakMap<Waiter, number>();
  /** Per stream: the credits its worker granted in all, and at which of them each quiet key's task of its last round was handed over (see quietSlots). */
  private readonly rounds = new WeakMap<Waiter, { granted: number; quiet: number[] }>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly store: Pick<Store, "claim" | "requeue" | "findTaskDefs" | "fairBacklog" | "fitsQuietRoom" | "readyTaskTypes">,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly hooks: DispatcherHooks = {},
    /** Safety net for missed wake-ups and delayed tasks becoming visible. */
    private readonly sweepMs = 250,
  ) {}

  start(): void {
    const tick = () => {
      if (this.stopped) return;
      void this.sweep();
      this.timer = setTimeout(tick, this.sweepMs);
      this.timer.unref();
    };
    tick();
    this.clock.onAdvance(() => void this.sweep());
  }

  /** Wakes the types waited on that the queue has ready tasks of (delayed tasks come due, a wake-up another replica's NOTIFY lost). */
  private async sweep(): Promise<void> {
    this.expireOwed();
    if (this.sweeping || this.waiters.size === 0) return;
    this.sweeping = true;
    try {
      for (const type of await this.store.readyTaskTypes(this.clock.now())) if (this.waiters.has(type)) this.wake(type);
    } catch (error) {
      this.log.warn({ err: error }, "reading the ready task types failed");
    } finally {
      this.sweeping = false;
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  add(waiter: Waiter): void {
    this.present.add(waiter);
    /** Types no one waited on: a stream of many asks the queue once which have tasks, rather than claiming for each. */
    const unknown: string[] = [];
    for (const type of waiter.taskTypes) {
      let set = this.waiters.get(type);
      if (!set) {
        this.waiters.set(type, (set = new Set()));
        if (waiter.taskTypes.length > 1 && !waiter.noWait) unknown.push(type);
      }
      set.add(waiter);
    }
    for (const type of unknown) this.drained.add(type);
    if (unknown.length > 0) void this.look(unknown);
    this.fed(waiter);
    // A poll that takes only what is ready now is answered after a claim has looked, drained or not.
    for (const type of waiter.taskTypes) {
      if (waiter.noWait) this.wake(type);
      else this.serve(type);
    }
  }

  remove(waiter: Waiter): void {
    this.present.delete(waiter);
    const owed = this.owed.get(waiter);
    this.owed.delete(waiter);
    this.owing.delete(waiter);
    if (owed) void this.release(owed.map((o) => o.task));
    for (const type of waiter.taskTypes) {
      const set = this.waiters.get(type);
      set?.delete(waiter);
      this.hungry.get(type)?.delete(waiter);
      if (set?.size === 0) {
        this.waiters.delete(type);
        this.hungry.delete(type);
        this.drained.delete(type);
        this.fresh.delete(type);
      }
    }
  }

  /** More credits for a waiter. */
  credit(waiter: Waiter, n: number): void {
    waiter.credits += n;
    this.refused.delete(waiter);
    if (waiter.stream) {
      this.held.set(waiter, Math.max(0, (this.held.get(waiter) ?? 0) - n));
      this.granted(waiter, n);
    }
    this.payOwed(waiter);
    this.fed(waiter);
    for (const type of waiter.taskTypes) this.serve(type);
  }

  /** Wakes those of `types` the queue has ready tasks of (unknown, they are claimed for as any). */
  private async look(types: string[]): Promise<void> {
    let ready: readonly string[] = types;
    try {
      ready = await this.store.readyTaskTypes(this.clock.now(), types);
    } catch (error) {
      this.log.warn({ err: error }, "reading the ready task types failed");
    }
    for (const type of ready) this.wake(type);
  }

  /** A waiter that has credits goes (back) among the hungry of each of its types. */
  private fed(waiter: Waiter): void {
    if (waiter.credits <= 0 || !this.present.has(waiter)) return;
    for (const type of waiter.taskTypes) {
      let set = this.hungry.get(type);
      if (!set) this.hungry.set(type, (set = new Set()));
      set.add(waiter);
    }
  }

  /** The waiters of `type` with credits now, in turn; those met without are dropped (credits bring them back). */
  private *withCredits(type: string): Generator<Waiter> {
    const set = this.hungry.get(type);
    if (!set) return;
    for (const waiter of set) {
      if (waiter.credits > 0) yield waiter;
      else set.delete(waiter);
    }
  }

  /** Moves a waiter just served to the end of its type's turn. */
  private served(type: string, waiter: Waiter): void {
    const set = this.hungry.get(type);
    if (set?.delete(waiter)) set.add(waiter);
  }

  /**
   * Takes one credit of a waiting worker of `type`, for a task handed over at
   * commit; `quiet`: only of a stream that keeps slots for quiet keys. With
   * none free, a quiet key's task (of `key`) may take the place of a task a
   * stream holds unwritten for a key that holds more there: a flood's claims
   * fill every slot a stream has and more than it can write, and a key with
   * nothing queued would otherwise wait first for a slot to come back, then
   * for its turn in a claim, then behind what the stream holds.
   */
  reserve(type: string, room: "any" | "quiet" = "any", key = ""): Reservation | undefined {
    const set = this.waiters.get(type);
    if (!set || this.stopped) return undefined;
    for (const waiter of this.withCredits(type)) {
      if (room === "quiet" && this.quietSlots(waiter) === 0) continue;
      // Not a poll with a claim out for it: handed this task, it would be
      // answered before the claim came back, and what the claim took would
      // go back to the queue. The task is queued instead, for the next claim.
      if (!waiter.stream && this.claiming.has(waiter)) continue;
      waiter.credits--;
      this.delivered(waiter, 1);
      if (room === "quiet") this.handedQuiet(waiter);
      // Round-robin: the next reservation starts with another waiter.
      this.served(type, waiter);
      return {
        workerId: waiter.workerId,
        deliver: (task) => {
          if (!this.isWaiting(waiter)) return false;
          waiter.deliver([task]);
          return true;
        },
        release: () => {
          waiter.credits++;
          this.delivered(waiter, -1);
          this.fed(waiter);
        },
      };
    }
    if (room === "quiet")
      for (const waiter of set) {
        if (!waiter.yields?.(key)) continue;
        this.handedQuiet(waiter);
        set.delete(waiter);
        set.add(waiter);
        return {
          workerId: waiter.workerId,
          deliver: (task) => {
            if (!this.isWaiting(waiter)) return false;
            // A slot its worker freed meanwhile takes the task, or a held task gives way, or (the stream wrote what
            // it held before the commit) the next slot it frees: queued, it waited 115-194 ms under the fairness
            // bench's flood for a claim's turn.
            return this.owe(waiter, task, false);
          },
          release: () => {},
        };
      }
    // Nothing unwritten to give up (the stream wrote the flood's last claim at once): the next slot its worker frees.
    if (room === "quiet")
      for (const waiter of set) {
        if (!this.mayOwe(waiter)) continue;
        this.owing.set(waiter, (this.owing.get(waiter) ?? 0) + 1);
        this.handedQuiet(waiter);
        set.delete(waiter);
        set.add(waiter);
        return {
          workerId: waiter.workerId,
          deliver: (task) => this.owe(waiter, task, true),
          release: () => this.owing.set(waiter, Math.max(0, (this.owing.get(waiter) ?? 0) - 1)),
        };
      }
    return undefined;
  }

  /**
   * Hands `task`, leased at commit to the stream's worker, to the stream: a
   * slot freed since takes it, else a held task of the key holding the most
   * gives way to it, else it takes the next slot the worker frees, ahead of
   * any claim (payOwed), in priority order. `reserved`: its reservation
   * counted it among the stream's owed already; if not, it is owed only while
   * the stream may owe more (mayOwe).
   */
  private owe(waiter: Waiter, task: ClaimedTask, reserved: boolean): boolean {
    const owing = this.owing.get(waiter) ?? 0;
    const handed = (ok: boolean) => {
      if (reserved) this.owing.set(waiter, Math.max(0, owing - 1));
      return ok;
    };
    if (!this.isWaiting(waiter)) return handed(false);
    if (waiter.credits > 0) {
      waiter.credits--;
      this.delivered(waiter, 1);
      waiter.deliver([task]);
      return handed(true);
    }
    if (waiter.swap?.(task)) return handed(true);
    if (!reserved) {
      if (!this.mayOwe(waiter)) return false;
      this.owing.set(waiter, owing + 1);
    }
    const list = this.owed.get(waiter) ?? [];
    const at = list.findIndex((o) => o.task.run.priority < task.run.priority);
    list.splice(at < 0 ? list.length : at, 0, { task, since: this.clock.now() });
    this.owed.set(waiter, list);
    return true;
  }

  /** Whether a stream that keeps quiet slots owes (with reservations for more) fewer tasks than half its slots. */
  private mayOwe(waiter: Waiter): boolean {
    return this.quietSlots(waiter) > 0 && (this.owing.get(waiter) ?? 0) < Math.floor((waiter.credits + (this.held.get(waiter) ?? 0)) / 2);
  }

  /** The slots a stream's worker frees go to the tasks owed it first. */
  private payOwed(waiter: Waiter): void {
    const list = this.owed.get(waiter);
    if (!list || waiter.credits <= 0) return;
    const paid = list.splice(0, waiter.credits);
    if (list.length === 0) this.owed.delete(waiter);
    this.owing.set(waiter, Math.max(0, (this.owing.get(waiter) ?? 0) - paid.length));
    waiter.credits -= paid.length;
    this.delivered(waiter, paid.length);
    waiter.deliver(paid.map((o) => o.task));
  }

  /** Tasks owed a slot for OWED_MS go back to the queue: their worker is slow to free one, another may free one sooner. */
  private expireOwed(): void {
    const now = this.clock.now();
    for (const [waiter, list] of this.owed) {
      const stale = list.filter((o) => now - o.since >= OWED_MS);
      if (stale.length === 0) continue;
      const left = list.filter((o) => now - o.since < OWED_MS);
      if (left.length > 0) this.owed.set(waiter, left);
      else this.owed.delete(waiter);
      this.owing.set(waiter, Math.max(0, (this.owing.get(waiter) ?? 0) - stale.length));
      void this.release(stale.map((o) => o.task));
    }
  }

  /** Tasks of this type may be ready: claim for whoever waits. */
  wake(type: string): void {
    if (!this.waiters.get(type)?.size || this.stopped) return;
    this.drained.delete(type);
    this.fresh.add(type);
    this.serve(type);
  }

  /** Whoever waits on `type` may take tasks: claim for them, unless the last claim found none and none were made ready since. */
  private serve(type: string): void {
    if (this.drained.has(type) || !this.waiters.get(type)?.size || this.stopped) return;
    if (this.running.has(type)) {
      this.running.set(type, true);
      return;
    }
    this.running.set(type, false);
    void this.pass(type).finally(() => {
      const again = this.running.get(type);
      this.running.delete(type);
      if (again) this.serve(type);
    });
  }

  private async pass(type: string): Promise<void> {
    await this.swapIn(type);
    for (;;) {
      const waiting = [...this.withCredits(type)];
      if (waiting.length === 0) return;
      let claimedAny = false;
      // The waiters of one worker share a claim: one query for all they accept
      // (the worker's id goes on the rows), not one per long poll.
      for (const group of byWorker(waiting)) {
        // What each asked as the claim went out (share() gives no more than the credits left when the claim
        // comes back). While keyed tasks are queued, the slots a stream keeps for quiet keys go only to a key
        // whose whole backlog fits in them, and are not asked for when none waits.
        const free = this.store.fairBacklog(type) ? group.map((w) => Math.min(this.quietSlots(w), w.credits)) : group.map(() => 0);
        const room = free.reduce((a, b) => a + b, 0);
        const quiet = this.store.fitsQuietRoom(type, room) ? room : 0;
        const asked = group.map((w, i) => w.credits - (quiet > 0 ? 0 : free[i]!));
        const wanted = Math.min(
          asked.reduce((a, b) => a + b, 0),
          MAX_CLAIM,
        );
        if (wanted === 0) continue;
        let tasks: ClaimedTask[];
        const now = this.clock.now();
        for (const waiter of group) this.claiming.add(waiter);
        let limits: ClaimLimits = {};
        try {
          limits = await this.limits(type);
          this.fresh.delete(type);
          tasks = await this.store.claim(type, wanted, group[0]!.workerId, now, randomUUID, limits, Math.min(quiet, wanted));
        } catch (error) {
          this.log.warn({ err: error, taskType: type }, "claim failed");
          answerEmpty(waiting);
          return;
        } finally {
          for (const waiter of group) this.claiming.delete(waiter);
        }
        if (tasks.length === 0) {
          // None ready (a type with limits may have some it may not take yet: its credits keep claiming).
          if (!this.fresh.has(type) && Object.keys(limits).length === 0) this.drained.add(type);
          answerEmpty(waiting);
          return;
        }
        this.hooks.claimed?.(tasks, now);
        claimedAny = true;
        await this.share(type, tasks, group, asked);
        // The claim found less than it asked for: whoever takes only what is ready now has had its look.
        if (tasks.length < wanted) answerEmpty(waiting);
      }
      if (!claimedAny) return;
    }
  }

  /**
   * A key with a few tasks queued (one found no slot at commit, and its next
   * ones queued behind it) is claimed into a stream that holds a backlog
   * unwritten, in place of held tasks of the key holding the most there
   * (swap), rather than waiting for credits: only keys whose whole counted
   * backlog fits in what the stream would give up take part (the claim's
   * quiet room is all of it), so a flood never does. Types with claim limits
   * are claimed only against credits, as they are never handed over.
   */
  private async swapIn(type: string): Promise<void> {
    if (!this.store.fairBacklog(type)) return;
    for (const waiter of this.waiters.get(type) ?? []) {
      // One that gave some back (their key held the most there) is tried again after its next credit, not at once.
      if (this.refused.has(waiter)) continue;
      const spare = waiter.spare?.() ?? 0;
      if (spare <= 0 || !this.store.fitsQuietRoom(type, spare)) continue;
      const limits = await this.limits(type);
      if (Object.keys(limits).length > 0) return;
      const now = this.clock.now();
      let tasks: ClaimedTask[];
      try {
        tasks = await this.store.claim(type, spare, waiter.workerId, now, randomUUID, limits, spare);
      } catch (error) {
        this.log.warn({ err: error, taskType: type }, "claim failed");
        return;
      }
      if (tasks.length === 0) return;
      this.hooks.claimed?.(tasks, now);
      const back = tasks.filter((task) => !(this.isWaiting(waiter) && waiter.swap!(task)));
      if (back.length > 0) this.refused.add(waiter);
      await this.release(back);
      return;
    }
  }

  /** Hands claimed tasks to the waiters they were claimed for, in turn; what no one waits for any more goes back to the queue. */
  private async share(type: string, tasks: ClaimedTask[], group: Waiter[], asked: number[]): Promise<void> {
    let next = 0;
    for (const [i, waiter] of group.entries()) {
      if (next === tasks.length) break;
      if (!this.isWaiting(waiter)) continue;
      // No more than it has credits for now: a hand-off at commit, or a claim
      // for another of its types, may have taken some while this claim was out.
      const mine = tasks.slice(next, next + Math.min(asked[i]!, waiter.credits));
      if (mine.length === 0) continue;
      next += mine.length;
      waiter.credits -= mine.length;
      this.delivered(waiter, mine.length);
      // Round-robin: the next claim serves the others first.
      this.served(type, waiter);
      waiter.deliver(mine);
    }
    // Their waiters went away while we claimed (a long poll timed out, a
    // stream closed): the same worker's waiters with room now take them (the
    // rows carry its id), such as the poll it sent next; the rest go back to
    // the queue for the next one.
    for (const waiter of [...this.withCredits(type)]) {
      if (next === tasks.length) break;
      if (waiter.workerId !== group[0]!.workerId) continue;
      const more = tasks.slice(next, next + waiter.credits);
      next += more.length;
      waiter.credits -= more.length;
      this.delivered(waiter, more.length);
      this.served(type, waiter);
      waiter.deliver(more);
    }
    await this.release(tasks.slice(next));
  }

  /**
   * Tasks handed to a waiter that never went out to its worker (claimed for
   * a waiter that left, held by a stream that ended): back to the queue now,
   * not after their lease, and claimed again for whoever waits.
   */
  async release(tasks: readonly ClaimedTask[]): Promise<void> {
    const types = new Set<string>();
    for (const task of tasks) {
      types.add(task.defName);
      await this.store
        .requeue(task.id, task.leaseToken)
        .catch((error: unknown) => this.log.warn({ err: error, taskId: task.id }, "requeue failed; the task returns after its lease"));
    }
    for (const type of types) this.wake(type);
  }

  /** Whether keyed tasks of `type` are queued (fair claims take turns across their keys). */
  fair(type: string): boolean {
    return this.store.fairBacklog(type);
  }

  /** Claim-side limits of a task type, from its definition; cached for a second of the server's clock. */
  private async limits(type: string): Promise<ClaimLimits> {
    const cached = this.limitCache.get(type);
    const now = this.clock.now();
    if (cached && cached.until > now) return cached.limits;
    const def = (await this.store.findTaskDefs([type])).get(type);
    const limits: ClaimLimits = {
      ...(def?.concurrentExecLimit ? { concurrentExecLimit: def.concurrentExecLimit } : {}),
      ...(def?.concurrentExecLimitPerKey ? { concurrentExecLimitPerKey: def.concurrentExecLimitPerKey } : {}),
      ...(def?.rateLimitPerFrequency ? { rateLimitPerFrequency: def.rateLimitPerFrequency } : {}),
      ...(def?.rateLimitFrequencyInSeconds ? { rateLimitFrequencyInSeconds: def.rateLimitFrequencyInSeconds } : {}),
    };
    this.limitCache.set(type, { limits, until: now + 1000 });
    return limits;
  }

  /** Forgets cached limits (a task definition changed). */
  forgetLimits(): void {
    this.limitCache.clear();
  }

  /**
   * The slots a stream keeps free of fair claims, for tasks of keys with
   * nothing queued: its quiet share, or as many as such keys' tasks were
   * handed to it over its last round (while its worker freed as many slots
   * as it has), up to half its slots. A worker that frees its slots a round
   * at a time (one that runs short tasks, and reads them all in one go) left
   * a quiet key's burst larger than the share owed the next round's slots:
   * under the fairness bench's flood, 10-30 of its 100 tasks waited 20-80 ms
   * for them, each time, all of its p99.
   */
  private quietSlots(waiter: Waiter): number {
    if (!waiter.stream) return 0;
    const slots = waiter.credits + (this.held.get(waiter) ?? 0);
    const share = Math.floor(slots * QUIET_SHARE);
    const round = this.rounds.get(waiter);
    if (share === 0 || !round) return share;
    const lastRound = round.quiet.filter((at) => at >= round.granted - slots).length;
    return Math.max(share, Math.min(lastRound, Math.floor(slots / 2)));
  }

  /** A quiet key's task was handed to a stream (see quietSlots). */
  private handedQuiet(waiter: Waiter): void {
    if (!waiter.stream) return;
    const round = this.rounds.get(waiter);
    if (round) round.quiet.push(round.granted);
    else this.rounds.set(waiter, { granted: 0, quiet: [0] });
  }

  /** A stream's worker granted `n` more credits: quiet tasks handed over before its last round are forgotten. */
  private granted(waiter: Waiter, n: number): void {
    const round = this.rounds.get(waiter);
    if (!round) {
      this.rounds.set(waiter, { granted: n, quiet: [] });
      return;
    }
    round.granted += n;
    const slots = waiter.credits + (this.held.get(waiter) ?? 0);
    while (round.quiet.length > 0 && round.quiet[0]! < round.granted - slots) round.quiet.shift();
  }

  /** `n` more of a stream's slots hold a task (a reservation for one counts). */
  private delivered(waiter: Waiter, n: number): void {
    if (waiter.stream) this.held.set(waiter, (this.held.get(waiter) ?? 0) + n);
  }

  private isWaiting(waiter: Waiter): boolean {
    return this.present.has(waiter);
  }
}

/** Waiters by worker id, in their order. */
function byWorker(waiters: Waiter[]): Waiter[][] {
  const groups = new Map<string, Waiter[]>();
  for (const waiter of waiters) {
    const group = groups.get(waiter.workerId);
    if (group) group.push(waiter);
    else groups.set(waiter.workerId, [waiter]);
  }
  return [...groups.values()];
}

/** Waiters that take only what is ready now and got nothing: answered with nothing. */
function answerEmpty(waiters: Waiter[]): void {
  for (const waiter of waiters) if (waiter.noWait && waiter.credits > 0) waiter.deliver([]);
}
