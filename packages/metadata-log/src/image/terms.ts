/**
 * The Raft terms of the log: each term with entries, its first offset and that entry's time. Replayed
 * from every entry's (offset, term), so every node and every restart agrees; terms change only at
 * elections, so the arrays (copied on a new term) stay small.
 *
 * Invariants: `starts` strictly increasing, consecutive `epochs` differ (Raft's only increase), the
 * three arrays of equal length, never mutated once the image holds them.
 */
import type { TermsImage } from './types.js';

export class TermsImageImpl implements TermsImage {
  static readonly EMPTY = new TermsImageImpl([], [], []);

  /** @internal Takes ownership of the arrays. */
  constructor(
    /** @internal */ readonly starts: readonly number[],
    /** @internal */ readonly epochs: readonly number[],
    /** @internal */ readonly times: readonly number[],
  ) {
    Object.freeze(this);
  }

  get count(): number {
    return this.epochs.length;
  }

  get startOffset(): number {
    return this.starts[this.starts.length - 1] ?? 0;
  }

  get startTimeMs(): number {
    return this.times[this.times.length - 1] ?? 0;
  }

  epochAt(offset: number): number {
    let lo = 0;
    let hi = this.starts.length - 1;
    if (hi < 0) return 0;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return this.epochs[lo]!;
  }

  /** This image plus an entry at `offset` in term `epoch`: a new term starts there, else unchanged. */
  observe(offset: number, epoch: number, timestampMs: number): TermsImageImpl {
    const last = this.epochs[this.epochs.length - 1];
    // Term 0 is the empty log's (records replayed without a term, in tests and tools).
    if (epoch === last || epoch <= 0) return this;
    return new TermsImageImpl(
      [...this.starts, offset],
      [...this.epochs, epoch],
      [...this.times, timestampMs],
    );
  }

  toComparable(): [number, number, number][] {
    return this.starts.map((s, i) => [s, this.epochs[i]!, this.times[i]!]);
  }
}
