// How many task types each key's open Dispatch streams wait on, here. Each
// (stream, task type) is a waiter the dispatcher keeps and the list of
// workers shows; without a bound one worker key could open streams until its
// connections ran out (10,000 streams each) and hold millions.

export class KeySubscriptions {
  private readonly held = new Map<string, number>();

  constructor(private readonly limit: number) {}

  /** Counts `n` more for `key`; the refusal, changing nothing, when they would pass the limit. */
  take(key: string, n: number): string | undefined {
    const held = this.held.get(key) ?? 0;
    if (held + n > this.limit) {
      return (
        `this key's open Dispatch streams wait on ${held} task types already (each stream counts each of its types), ` +
        `and ${n} more would pass the ${this.limit} one key may on a server: close streams it no longer uses, ` +
        `or have an operator raise BATON_DISPATCH_SUBSCRIPTIONS_PER_KEY`
      );
    }
    this.held.set(key, held + n);
    return undefined;
  }

  /** A stream of `key` waiting on `n` types closed. */
  give(key: string, n: number): void {
    const left = (this.held.get(key) ?? 0) - n;
    if (left > 0) this.held.set(key, left);
    else this.held.delete(key);
  }
}
