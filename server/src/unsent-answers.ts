// A server-wide budget of answer bytes written and not yet gone out. A caller
// that stops reading leaves every answer it asked for in the server's memory:
// 100 task-log pages of 4 MiB over a connection that stopped reading took a
// server from 250 to 737 MB resident, and kept it. grpc-js turns HTTP/2's
// per-session memory limit off, and a limit per connection alone would not
// hold (a caller opens more connections). So each answer is counted from its
// write until its bytes have gone out to the socket or its call ended; a
// large one first takes room, waits a bounded time when there is none and
// is refused then; one connection's large answers hold at most a share of
// the budget; and a call whose answer stays unsent past a deadline is ended,
// which frees its bytes. Callers that stop reading on several connections
// could fill the whole budget (each within its share) and keep every other
// caller's large answers waiting until the deadline: so while answers wait,
// the calls of connections none of whose answers went out for a while are
// ended, the connections holding the most first. The gRPC port
// (grpc-answers.ts), Conductor's REST port and the console's Connect port
// (console/console-answers.ts) share one budget.
import os from "node:os";
import { Counter, type Registry } from "prom-client";
import { readGauge } from "./observability/read-gauge.js";
import { everyTick, type Clock } from "./clock.js";

export interface AnswerBudget {
  /** Bytes of answers written and not yet gone out, across the server. */
  totalBytes: number;
  /** What one connection's large answers may hold of it. */
  connectionBytes: number;
  /** How long a large answer waits for room before it is refused (server's clock). */
  waitMs: number;
  /** How long an answer may stay unsent before its call is ended (server's clock). */
  unreadMs: number;
  /** While answers wait for room: how long a connection may hold answers with none of them going out before its calls are ended. */
  stalledMs: number;
}

/** Answers below this size may use an eighth more than the budget and a connection's share: a small call is served while large answers fill it. */
export const LARGE_ANSWER_BYTES = 64 * 1024;

const MiB = 1024 * 1024;

/** A sixteenth of the memory the process may use (the machine's, or its container's), between 64 MiB and 1 GiB. */
export function defaultAnswerBudget(memoryBytes = availableMemory()): AnswerBudget {
  const totalBytes = Math.min(1024 * MiB, Math.max(64 * MiB, Math.floor(memoryBytes / 16)));
  return { totalBytes, connectionBytes: Math.floor(totalBytes / 4), waitMs: 10_000, unreadMs: 120_000, stalledMs: 5_000 };
}

/** The budget a server runs with: `options` over the default; a connection's share is a quarter of the budget unless given. */
export function answerBudgetOf(options: Partial<AnswerBudget> = {}): AnswerBudget {
  const defaults = defaultAnswerBudget();
  const totalBytes = options.totalBytes ?? defaults.totalBytes;
  return { ...defaults, connectionBytes: Math.floor(totalBytes / 4), ...options, totalBytes };
}

function availableMemory(): number {
  const constrained = process.constrainedMemory?.() ?? 0;
  return constrained > 0 ? Math.min(constrained, os.totalmem()) : os.totalmem();
}

/** An answer's bytes, counted until they have gone out or its call ended. */
export interface Held {
  /** Its bytes have gone out: released, and its connection reads. Idempotent, as is `release`. */
  sent(): void;
  /** Its call ended before they went out. */
  release(): void;
}

/** Why an answer was refused, for the caller: what is full, and what to do. */
export class AnswerRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AnswerRefused";
  }
}

/** The call an answer belongs to. */
export interface AnswerCall {
  /** The connection it came on (answers of one connection share a part of the budget). */
  readonly connection: string;
  /** Ends the call: its answer stayed unsent past the deadline. */
  end(): void;
  /** Whether the call has ended (a waiting answer of an ended call is dropped). */
  gone(): boolean;
}

interface Entry extends Held {
  readonly call: AnswerCall;
  readonly since: number;
}

interface Waiter {
  readonly bytes: number;
  readonly call: AnswerCall;
  readonly since: number;
  readonly resolve: (held: Held) => void;
  readonly reject: (error: AnswerRefused) => void;
}

/** What a connection's answers hold, and since when none of them has gone out. */
interface Holding {
  bytes: number;
  quietSince: number;
}

const mib = (bytes: number) => `${(bytes / MiB).toFixed(1)} MiB`;

export class UnsentAnswers {
  private held = 0;
  private waitingBytes = 0;
  private readonly byConnection = new Map<string, Holding>();
  private readonly waiters: Waiter[] = [];
  private readonly entries = new Set<Entry>();
  private readonly waited: Counter;
  private readonly refused: Counter<"reason">;
  private readonly ended: Counter;
  private readonly endedStalled: Counter;

  constructor(
    readonly budget: AnswerBudget,
    private readonly clock: Clock,
    registry: Registry,
  ) {
    const registers = [registry];
    readGauge(registry, "baton_unsent_answer_bytes", "Bytes of answers written and not yet gone out to their callers", () => this.held);
    readGauge(registry, "baton_unsent_answer_budget_bytes", "The most bytes of unsent answers the server holds", () => budget.totalBytes);
    readGauge(registry, "baton_answers_waiting_bytes", "Bytes of answers waiting for room in the budget", () => this.waitingBytes);
    this.waited = new Counter({ name: "baton_answers_waited_total", help: "Answers that waited for room in the budget of unsent answers", registers });
    this.refused = new Counter({
      name: "baton_answers_refused_total",
      help: "Answers refused for lack of room (RESOURCE_EXHAUSTED, REST 503): budget (no room came in time), waiting (too many already waiting), stalled (their connection read nothing while others waited)",
      labelNames: ["reason"],
      registers,
    });
    this.ended = new Counter({ name: "baton_unread_calls_ended_total", help: "Calls ended because their answer stayed unsent past the deadline", registers });
    this.endedStalled = new Counter({
      name: "baton_stalled_calls_ended_total",
      help: "Calls ended early, while answers waited for room, because none of their connection's answers had gone out for a while",
      registers,
    });
  }

  /** Bytes held now. */
  get heldBytes(): number {
    return this.held;
  }

  /**
   * Counts `bytes` about to be written for `call`: at once when the budget
   * and the call's connection's share have room (a small answer may use an
   * eighth more of each), else once room comes; refused (AnswerRefused) when
   * none comes in time. With no room, the calls of stalled connections are
   * ended first (endStalled). Call `sent` on what it gives once the bytes
   * have gone out, `release` if the call ended first.
   */
  take(call: AnswerCall, bytes: number): Held | Promise<Held> {
    if (this.fits(call.connection, bytes)) return this.count(call, bytes);
    this.endStalled(bytes, call.connection);
    if (this.fits(call.connection, bytes)) return this.count(call, bytes);
    // A waiting answer is held too (serialized, to know its size): at most a quarter of the budget waits.
    if (this.waitingBytes > 0 && this.waitingBytes + bytes > this.budget.totalBytes / 4) {
      this.refused.inc({ reason: "waiting" });
      return Promise.reject(this.refusal(bytes, "a quarter of the budget already waits for room"));
    }
    this.waited.inc();
    return new Promise<Held>((resolve, reject) => {
      this.waiters.push({ bytes, call, since: this.clock.now(), resolve, reject });
      this.waitingBytes += bytes;
    });
  }

  /** Counts an answer that does not wait (a stream's message: its stream's back-pressure bounds those). */
  count(call: AnswerCall, bytes: number): Held {
    const { connection } = call;
    const now = this.clock.now();
    this.held += bytes;
    const holding = this.byConnection.get(connection);
    if (holding) holding.bytes += bytes;
    else this.byConnection.set(connection, { bytes, quietSince: now });
    let released = false;
    const release = (sent: boolean) => {
      if (released) return;
      released = true;
      this.held -= bytes;
      const holding = this.byConnection.get(connection);
      if (holding && holding.bytes > bytes) {
        holding.bytes -= bytes;
        if (sent) holding.quietSince = this.clock.now();
      } else this.byConnection.delete(connection);
      this.entries.delete(entry);
      if (this.waiters.length > 0) this.admitWaiters();
    };
    const entry: Entry = { call, since: now, sent: () => release(true), release: () => release(false) };
    this.entries.add(entry);
    return entry;
  }

  /**
   * Ends stalled connections' calls while answers wait, refuses answers that
   * waited too long and ends calls whose answers stayed unsent past the
   * deadline. Runs every second and when a test's clock jumps.
   */
  sweep(): void {
    const now = this.clock.now();
    if (this.waiters.length > 0) this.endStalled(0);
    for (let i = 0; i < this.waiters.length;) {
      const waiter = this.waiters[i]!;
      const gone = waiter.call.gone();
      if (!gone && now - waiter.since < this.budget.waitMs) {
        i++;
        continue;
      }
      this.waiters.splice(i, 1);
      this.waitingBytes -= waiter.bytes;
      if (!gone) this.refused.inc({ reason: "budget" });
      waiter.reject(this.refusal(waiter.bytes, `no room came in ${Math.round(this.budget.waitMs / 1000)} s`));
    }
    for (const entry of [...this.entries]) {
      if (now - entry.since < this.budget.unreadMs) continue;
      this.ended.inc();
      entry.release();
      entry.call.end();
    }
  }

  /** Sweeps every second and whenever the clock jumps; returns the function that stops. */
  watch(): () => void {
    return everyTick(this.clock, 1000, () => this.sweep());
  }

  /**
   * Ends the calls of connections none of whose answers has gone out for
   * `stalledMs`, those holding the most first, until the answers waiting (and
   * `bytes` more, from `asking`, unless it is such a connection itself) would fit.
   */
  private endStalled(bytes: number, asking?: string): void {
    const quietBefore = this.clock.now() - this.budget.stalledMs;
    const stalled = (holding: Holding | undefined) => holding !== undefined && holding.quietSince <= quietBefore;
    const mine = asking === undefined ? undefined : this.byConnection.get(asking);
    // Room made elsewhere would not let in an answer whose own connection reads nothing, or holds its share.
    if (mine && (stalled(mine) || mine.bytes + bytes > this.budget.connectionBytes)) return;
    const wanted = () => this.held + this.waitingBytes + bytes - this.budget.totalBytes;
    if (wanted() <= 0) return;
    const quiet = [...this.byConnection].filter(([, holding]) => stalled(holding)).sort(([, a], [, b]) => b.bytes - a.bytes);
    for (const [connection] of quiet) {
      if (wanted() <= 0) return;
      // Its waiting answers would stall the same: refused first, so the room goes to others.
      for (const waiter of this.waiters.filter((w) => w.call.connection === connection)) {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        this.waitingBytes -= waiter.bytes;
        this.refused.inc({ reason: "stalled" });
        waiter.reject(this.refusal(waiter.bytes, `none of this connection's answers went out in ${Math.round(this.budget.stalledMs / 1000)} s`));
      }
      for (const entry of [...this.entries]) {
        if (entry.call.connection !== connection) continue;
        this.endedStalled.inc();
        entry.release();
        entry.call.end();
      }
    }
  }

  private fits(connection: string, bytes: number): boolean {
    const mine = this.byConnection.get(connection)?.bytes ?? 0;
    const room = bytes < LARGE_ANSWER_BYTES ? 1.125 : 1;
    // An answer larger than a share, or than the budget, goes out alone.
    return (mine === 0 || mine + bytes <= this.budget.connectionBytes * room) && (this.held === 0 || this.held + bytes <= this.budget.totalBytes * room);
  }

  private admitWaiters(): void {
    for (let i = 0; i < this.waiters.length;) {
      const waiter = this.waiters[i]!;
      if (!this.fits(waiter.call.connection, waiter.bytes)) {
        i++;
        continue;
      }
      this.waiters.splice(i, 1);
      this.waitingBytes -= waiter.bytes;
      waiter.resolve(this.count(waiter.call, waiter.bytes));
    }
  }

  private refusal(bytes: number, why: string): AnswerRefused {
    return new AnswerRefused(
      `the server holds ${mib(this.held)} of answers their callers have not read yet (its budget: ${mib(this.budget.totalBytes)}, ` +
        `${mib(this.budget.connectionBytes)} a connection), and ${why}: this answer of ${mib(bytes)} was not sent. ` +
        `Read the answers you asked for before asking for more, ask for smaller pages, and retry shortly ` +
        `(an operator sets the budget with BATON_UNSENT_ANSWER_BYTES)`,
    );
  }
}
