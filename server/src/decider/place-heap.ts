// The decision loop's worklist (see Decider.nextEnded): task places in a
// min-heap, each held once.

/** A min-heap of task places, each held once. */
export class PlaceHeap {
  private readonly items: number[] = [];
  private readonly held = new Set<number>();

  get size(): number {
    return this.items.length;
  }

  add(place: number): void {
    if (this.held.has(place)) return;
    this.held.add(place);
    const items = this.items;
    let i = items.push(place) - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (items[parent]! <= place) break;
      items[i] = items[parent]!;
      i = parent;
    }
    items[i] = place;
  }

  pop(): number | undefined {
    const items = this.items;
    if (items.length === 0) return undefined;
    const top = items[0]!;
    const last = items.pop()!;
    if (items.length > 0) {
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        if (left >= items.length) break;
        const right = left + 1;
        const child = right < items.length && items[right]! < items[left]! ? right : left;
        if (items[child]! >= last) break;
        items[i] = items[child]!;
        i = child;
      }
      items[i] = last;
    }
    this.held.delete(top);
    return top;
  }

  /** Takes every place out. */
  drain(): number[] {
    const all = [...this.items];
    this.items.length = 0;
    this.held.clear();
    return all;
  }
}
