/**
 * A min-heap of (time, name): the patrol pops the checks that are due instead
 * of scanning every check on every wake (with a thousand checks whose runs
 * are spread out, the loop wakes every few milliseconds).
 */
export class DueQueue {
  private readonly heap: Array<{ at: number; name: string }> = [];

  push(at: number, name: string): void {
    const heap = this.heap;
    heap.push({ at, name });
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heap[parent]!.at <= heap[i]!.at) break;
      [heap[parent], heap[i]] = [heap[i]!, heap[parent]!];
      i = parent;
    }
  }

  peek(): { at: number; name: string } | undefined {
    return this.heap[0];
  }

  pop(): { at: number; name: string } | undefined {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop();
    if (heap.length > 0 && last) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let smallest = i;
        if (l < heap.length && heap[l]!.at < heap[smallest]!.at) smallest = l;
        if (r < heap.length && heap[r]!.at < heap[smallest]!.at) smallest = r;
        if (smallest === i) break;
        [heap[smallest], heap[i]] = [heap[i]!, heap[smallest]!];
        i = smallest;
      }
    }
    return top;
  }

  get size(): number {
    return this.heap.length;
  }
}
