/** One scheduled event. `seq` is the insertion order: equal times run in the order they were scheduled. */
export interface SimEvent {
  readonly time: number;
  readonly seq: number;
  /** A short static label for traces ('deliver', 'tick', 'persist', ...). */
  readonly kind: string;
  /** The node the event concerns, 0 for cluster-wide events. */
  readonly node: number;
  readonly run: () => void;
  /** Optional details for traces, computed only when tracing. */
  readonly describe?: () => string;
}

/**
 * A binary min-heap of events ordered by (time, seq). Because `seq` is unique and increasing, the order
 * is total and independent of the heap's internal layout: the same schedule always pops the same way.
 */
export class EventQueue {
  private heap: SimEvent[] = [];
  private nextSeq = 0;

  get size(): number {
    return this.heap.length;
  }

  push(time: number, kind: string, node: number, run: () => void, describe?: () => string): SimEvent {
    const ev: SimEvent = { time, seq: this.nextSeq++, kind, node, run, describe };
    const h = this.heap;
    h.push(ev);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = h[p]!;
      if (!before(ev, parent)) break;
      h[i] = parent;
      i = p;
    }
    h[i] = ev;
    return ev;
  }

  peek(): SimEvent | undefined {
    return this.heap[0];
  }

  pop(): SimEvent | undefined {
    const h = this.heap;
    const top = h[0];
    if (top === undefined) return undefined;
    const last = h.pop()!;
    if (h.length > 0) {
      let i = 0;
      const n = h.length;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        let c = l;
        if (r < n && before(h[r]!, h[l]!)) c = r;
        if (!before(h[c]!, last)) break;
        h[i] = h[c]!;
        i = c;
      }
      h[i] = last;
    }
    return top;
  }
}

function before(a: SimEvent, b: SimEvent): boolean {
  return a.time < b.time || (a.time === b.time && a.seq < b.seq);
}
