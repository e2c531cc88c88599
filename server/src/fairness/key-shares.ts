// A budget of things in progress at once (starts, searches) and each key's
// share of it: one key holds at most half, so its flood leaves room for the
// others; callers without a key (authentication off) are one caller and
// share the budget whole.
export class KeyShares {
  /** What one key may hold. */
  readonly perKey: number;
  private total = 0;
  private readonly byKey = new Map<string, number>();

  constructor(readonly max: number) {
    this.perKey = Math.max(1, Math.floor(max / 2));
  }

  /** How many are in progress, in all. */
  get inProgress(): number {
    return this.total;
  }

  /** How many `key` holds. */
  heldBy(key: string): number {
    return this.byKey.get(key) ?? 0;
  }

  /** Whether the budget has room, and `key` room within its share. */
  hasRoom(key: string): boolean {
    return this.total < this.max && (key === "" || this.heldBy(key) < this.perKey);
  }

  take(key: string): void {
    this.total++;
    this.byKey.set(key, this.heldBy(key) + 1);
  }

  release(key: string): void {
    this.total--;
    const held = this.heldBy(key) - 1;
    if (held <= 0) this.byKey.delete(key);
    else this.byKey.set(key, held);
  }
}
