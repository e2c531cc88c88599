// The starts the server takes on at once (EngineLimits.maxConcurrentStarts),
// and each key's share of them. Beyond the limit a start is refused "busy"
// rather than queued, so overload sheds early; but one operator key keeping
// 600 starts in flight held every slot, and half of another key's starts
// were refused. A key now holds at most half of the slots; callers without a
// key (authentication off) are one caller and share them whole.
export class StartShares {
  private total = 0;
  private readonly byKey = new Map<string, number>();
  private readonly perKey: number;

  constructor(private readonly max: number) {
    this.perKey = Math.max(1, Math.floor(max / 2));
  }

  /** Takes a slot for a start by `key`; returns why not when there is none. (Child runs take none: see Engine.start.) */
  take(key: string): string | undefined {
    const held = this.byKey.get(key) ?? 0;
    if (this.total >= this.max) return `the server is busy (${this.total} starts in progress); retry shortly`;
    if (key !== "" && held >= this.perKey)
      return `this key has ${held} starts in progress, its share (half) of the ${this.max} the server takes at once; wait for them, then retry`;
    this.total++;
    this.byKey.set(key, held + 1);
    return undefined;
  }

  release(key: string): void {
    this.total--;
    const held = (this.byKey.get(key) ?? 1) - 1;
    if (held === 0) this.byKey.delete(key);
    else this.byKey.set(key, held);
  }
}
