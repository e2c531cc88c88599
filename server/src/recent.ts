// A map that keeps only its most recently set entries: for facts that never
// change once learnt (a task's type, a lease handed out here) and are worth
// keeping while they are likely to be asked about again.
export class RecentMap<K, V> extends Map<K, V> {
  constructor(private readonly maxEntries: number) {
    super();
  }

  override set(key: K, value: V): this {
    // Set again, an entry moves to the newest end.
    super.delete(key);
    super.set(key, value);
    if (this.size > this.maxEntries) {
      const oldest = this.keys().next();
      if (!oldest.done) super.delete(oldest.value);
    }
    return this;
  }
}
