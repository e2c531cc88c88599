// The starts the server takes on at once (EngineLimits.maxConcurrentStarts),
// and each key's share of them (fairness/key-shares.ts). Beyond the limit a
// start is refused "busy" rather than queued, so overload sheds early; but
// one operator key keeping 600 starts in flight held every slot, and half of
// another key's starts were refused.
import { KeyShares } from "../fairness/key-shares.js";

export class StartShares {
  private readonly shares: KeyShares;

  constructor(max: number) {
    this.shares = new KeyShares(max);
  }

  /** Takes a slot for a start by `key`; returns why not when there is none. (Child runs take none: see Engine.start.) */
  take(key: string): string | undefined {
    const { shares } = this;
    if (!shares.hasRoom(key)) {
      if (shares.inProgress >= shares.max) return `the server is busy (${shares.inProgress} starts in progress); retry shortly`;
      return `this key has ${shares.heldBy(key)} starts in progress, its share (half) of the ${shares.max} the server takes at once; wait for them, then retry`;
    }
    shares.take(key);
    return undefined;
  }

  release(key: string): void {
    this.shares.release(key);
  }
}
