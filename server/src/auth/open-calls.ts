// The calls admitted under each API key that are still open, so that revoking
// a key ends them at once instead of when they would next ask for something:
// a Dispatch stream stays open for hours and keeps receiving tasks. Streams
// also have a bounded age (on the server's clock): an old stream is ended with
// UNAVAILABLE and the worker opens a new one, which is authenticated afresh.
import { grpc, RpcError } from "@baton/protocol";
import { everyTick, type Clock } from "../clock.js";

export interface OpenCall {
  keyId: string;
  streaming: boolean;
  /** Ends the call with `error` as its status. */
  end(error: RpcError): void;
}

interface Entry extends OpenCall {
  openedAt: number;
}

export class OpenCalls {
  private readonly byKey = new Map<string, Set<Entry>>();

  constructor(
    private readonly clock: Clock,
    /** The longest a stream stays open. */
    private readonly maxStreamAgeMs: number,
  ) {}

  /** Registers an admitted call; returns the function that forgets it (call it when the call ends). */
  open(call: OpenCall): () => void {
    const entry: Entry = { ...call, openedAt: this.clock.now() };
    let calls = this.byKey.get(call.keyId);
    if (!calls) this.byKey.set(call.keyId, (calls = new Set()));
    calls.add(entry);
    return () => {
      calls.delete(entry);
      if (calls.size === 0 && this.byKey.get(call.keyId) === calls) this.byKey.delete(call.keyId);
    };
  }

  /** Key ids with calls open. */
  keyIds(): string[] {
    return [...this.byKey.keys()];
  }

  /** Ends every open call of `keyId` with `error`; returns how many. */
  endKey(keyId: string, error: RpcError): number {
    const calls = [...(this.byKey.get(keyId) ?? [])];
    this.byKey.delete(keyId);
    for (const call of calls) call.end(error);
    return calls.length;
  }

  /** Ends streams older than the bound (UNAVAILABLE: workers open a new one); returns how many. */
  endAged(): number {
    const oldest = this.clock.now() - this.maxStreamAgeMs;
    const error = new RpcError(grpc.status.UNAVAILABLE, `this stream reached its maximum age (${Math.round(this.maxStreamAgeMs / 1000)} s): open a new one`);
    let ended = 0;
    for (const calls of this.byKey.values()) {
      for (const call of [...calls]) {
        if (call.streaming && call.openedAt <= oldest) {
          calls.delete(call);
          call.end(error);
          ended++;
        }
      }
    }
    for (const [keyId, calls] of this.byKey) if (calls.size === 0) this.byKey.delete(keyId);
    return ended;
  }

  /** Ends aged streams whenever the clock moves: every minute or so, and at once when a test's clock jumps. */
  watchAge(): () => void {
    return everyTick(this.clock, Math.min(60_000, Math.max(1000, this.maxStreamAgeMs / 4)), () => this.endAged());
  }

  /**
   * Re-reads the given keys (default: every key with calls open) and ends the
   * calls of each that is no longer active. `refusal` gives the error a request
   * with that key would get now, or undefined while the key is active.
   */
  async recheck(refusal: (keyId: string) => Promise<RpcError | undefined>, keyIds: string[] = this.keyIds()): Promise<void> {
    await Promise.all(
      keyIds.map(async (keyId) => {
        // A database that cannot answer right now proves nothing: the calls stay (the next re-check decides).
        const error = await refusal(keyId).catch(() => undefined);
        if (error) this.endKey(keyId, error);
      }),
    );
  }
}
