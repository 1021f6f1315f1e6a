import type { Entry, Membership, SnapshotMeta } from './types.js';

/**
 * The core's in-memory view of the replicated log: every entry after `offset`, whether durable or not.
 *
 * Invariants:
 * - entries[k].index === offset + 1 + k (contiguous);
 * - offset <= snapshot.index <= lastIndex(), so the snapshot always covers what was discarded;
 * - stableIndex <= lastIndex(): entries up to stableIndex are durable on this node;
 * - committed entries are never truncated (the core panics before doing so).
 */
export class RaftLog {
  private entries: Entry[];
  /** Index of the entry before entries[0]; its term is `offsetTerm` when known. */
  private offset: number;
  private offsetTerm: number | undefined;
  snapshot: SnapshotMeta;
  stableIndex: number;
  /** Membership entries still in `entries`, oldest first, so a truncation can fall back to an older one. */
  private memberships: { index: number; membership: Membership }[] = [];

  constructor(snapshot: SnapshotMeta, entries: readonly Entry[]) {
    this.snapshot = snapshot;
    const first = entries[0];
    if (first === undefined) {
      this.offset = snapshot.index;
      this.offsetTerm = snapshot.term;
      this.entries = [];
    } else {
      if (first.index > snapshot.index + 1) {
        throw new Error(`log gap: snapshot ends at ${snapshot.index} but the log starts at ${first.index}`);
      }
      this.offset = first.index - 1;
      this.offsetTerm = this.offset === snapshot.index ? snapshot.term : undefined;
      this.entries = [...entries];
      for (let k = 1; k < entries.length; k++) {
        if (entries[k]!.index !== first.index + k)
          throw new Error(`log not contiguous at index ${first.index + k}`);
      }
      if (this.lastIndex() < snapshot.index) {
        throw new Error(`log ends at ${this.lastIndex()} before the snapshot at ${snapshot.index}`);
      }
    }
    this.stableIndex = this.lastIndex();
    for (const e of this.entries) {
      if (e.membership !== undefined) this.memberships.push({ index: e.index, membership: e.membership });
    }
  }

  firstIndex(): number {
    return this.offset + 1;
  }

  lastIndex(): number {
    return this.offset + this.entries.length;
  }

  lastTerm(): number {
    const last = this.entries[this.entries.length - 1];
    return last === undefined ? (this.offsetTerm ?? this.snapshot.term) : last.term;
  }

  /** The term of the entry at `index`, or undefined when it is discarded or beyond the end. */
  term(index: number): number | undefined {
    if (index === this.snapshot.index) return this.snapshot.term;
    if (index === this.offset) return this.offsetTerm;
    if (index < this.offset || index > this.lastIndex()) return undefined;
    return this.entries[index - this.offset - 1]!.term;
  }

  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term;
  }

  entry(index: number): Entry | undefined {
    if (index <= this.offset) return undefined;
    return this.entries[index - this.offset - 1];
  }

  /** Entries in [lo, hi), at most `maxCount` of them and, past the first, at most `maxBytes` of data. */
  slice(
    lo: number,
    hi: number,
    maxCount = Number.POSITIVE_INFINITY,
    maxBytes = Number.POSITIVE_INFINITY,
  ): Entry[] {
    if (lo <= this.offset) throw new Error(`slice(${lo}) below the first index ${this.firstIndex()}`);
    const end = Math.min(hi, this.lastIndex() + 1, lo + maxCount);
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = lo; i < end; i++) {
      const e = this.entries[i - this.offset - 1]!;
      bytes += e.data?.byteLength ?? 0;
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(e);
    }
    return out;
  }

  /** Appends entries that follow lastIndex() directly. */
  append(entries: readonly Entry[]): void {
    for (const e of entries) {
      if (e.index !== this.lastIndex() + 1) {
        throw new Error(`append at ${e.index} does not follow the last index ${this.lastIndex()}`);
      }
      this.entries.push(e);
      if (e.membership !== undefined) this.memberships.push({ index: e.index, membership: e.membership });
    }
  }

  /** Removes every entry at or after `index`. The caller guarantees none of them is committed. */
  truncateFrom(index: number): void {
    if (index <= this.offset) throw new Error(`truncate at ${index} reaches below the first index`);
    this.entries.length = Math.max(0, index - this.offset - 1);
    this.stableIndex = Math.min(this.stableIndex, index - 1);
    while (this.memberships.length > 0 && this.memberships[this.memberships.length - 1]!.index >= index) {
      this.memberships.pop();
    }
  }

  /**
   * The largest index <= `index` whose term is <= `term` (etcd's findConflictByTerm), for fast
   * backtracking: every entry in between is certain to conflict with a log whose entry at `index` has `term`.
   */
  findConflictByTerm(index: number, term: number): number {
    let i = Math.min(index, this.lastIndex());
    for (; i > this.offset; i--) {
      const t = this.term(i);
      if (t !== undefined && t <= term) return i;
    }
    return this.offset;
  }

  /** The membership in force: the latest in the log, else the snapshot's. */
  membership(): { index: number; membership: Membership } {
    return (
      this.memberships[this.memberships.length - 1] ?? {
        index: this.snapshot.index,
        membership: this.snapshot.membership,
      }
    );
  }

  /** The membership in force at `index` (which must not be below the snapshot unless kept in the log). */
  membershipAt(index: number): Membership {
    let found: Membership = this.snapshot.membership;
    for (const m of this.memberships) {
      if (m.index <= index) found = m.membership;
    }
    return found;
  }

  /** Replaces the whole log with a snapshot (a follower too far behind to be sent entries). */
  restore(snapshot: SnapshotMeta): void {
    this.snapshot = snapshot;
    this.entries = [];
    this.offset = snapshot.index;
    this.offsetTerm = snapshot.term;
    this.stableIndex = snapshot.index;
    this.memberships = [];
  }

  /**
   * Records a newer snapshot taken by the state machine and discards entries up to `discardThrough`
   * (which must not pass the snapshot). Entries after `discardThrough` are kept for slow followers.
   */
  compact(snapshot: SnapshotMeta, discardThrough: number): void {
    if (snapshot.index <= this.snapshot.index) return;
    if (snapshot.index > this.stableIndex)
      throw new Error(`snapshot at ${snapshot.index} beyond the durable log`);
    const through = Math.min(discardThrough, snapshot.index);
    this.snapshot = snapshot;
    if (through <= this.offset) return;
    const newOffsetTerm = this.term(through);
    this.entries = this.entries.slice(through - this.offset);
    this.offset = through;
    this.offsetTerm = newOffsetTerm;
    this.memberships = this.memberships.filter((m) => m.index > through);
  }

  /** Bytes of entry data currently held; used for status and by drivers deciding when to snapshot. */
  dataBytes(): number {
    let n = 0;
    for (const e of this.entries) n += e.data?.byteLength ?? 0;
    return n;
  }
}
