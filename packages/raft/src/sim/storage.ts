import type { Entry, HardState, InitialState, Membership, SnapshotMeta } from '../core/types.js';

/**
 * A log of entries after `offset`, with the snapshot it starts from. Used both for a node's durable log
 * and for the harness's mirror of the core's in-memory log (kept in step with every Ready).
 *
 * Invariants: entries[k].index === offset + 1 + k; offset <= snapshot.index <= lastIndex() unless the
 * entries after a restored snapshot have not arrived yet (then offset === snapshot.index).
 */
export class EntryLog {
  entries: Entry[] = [];
  offset: number;
  /** Term of the entry at `offset`, when known. */
  offsetTerm: number | undefined;
  snapshot: SnapshotMeta;

  constructor(snapshot: SnapshotMeta, entries: readonly Entry[] = []) {
    this.snapshot = snapshot;
    const first = entries[0];
    this.offset = first === undefined ? snapshot.index : first.index - 1;
    this.offsetTerm = this.offset === snapshot.index ? snapshot.term : undefined;
    this.entries = [...entries];
  }

  firstIndex(): number {
    return this.offset + 1;
  }

  lastIndex(): number {
    return this.offset + this.entries.length;
  }

  term(index: number): number | undefined {
    if (index === this.snapshot.index) return this.snapshot.term;
    if (index === this.offset) return this.offsetTerm;
    if (index < this.offset || index > this.lastIndex()) return undefined;
    return this.entries[index - this.offset - 1]!.term;
  }

  entry(index: number): Entry | undefined {
    if (index <= this.offset) return undefined;
    return this.entries[index - this.offset - 1];
  }

  /**
   * Stores `entries` (contiguous), first removing every entry at or after `entries[0].index`: the
   * truncation rule of a Ready. Throws if that would leave a gap.
   */
  append(entries: readonly Entry[]): void {
    const first = entries[0];
    if (first === undefined) return;
    if (first.index > this.lastIndex() + 1) {
      throw new Error(`log gap: appending at ${first.index} after the last index ${this.lastIndex()}`);
    }
    if (first.index <= this.offset)
      throw new Error(`append at ${first.index} below the first index ${this.firstIndex()}`);
    this.entries.length = first.index - this.offset - 1;
    for (const e of entries) this.entries.push(e);
  }

  /** Replaces the whole log by a snapshot (a follower installing the leader's snapshot). */
  restore(meta: SnapshotMeta): void {
    this.snapshot = meta;
    this.entries = [];
    this.offset = meta.index;
    this.offsetTerm = meta.term;
  }

  /** Records a snapshot taken locally and discards entries through `through` (<= meta.index). */
  compact(meta: SnapshotMeta, through: number): void {
    if (meta.index <= this.snapshot.index) return;
    this.snapshot = meta;
    const upTo = Math.min(through, meta.index, this.lastIndex());
    if (upTo <= this.offset) return;
    const newOffsetTerm = this.term(upTo);
    this.entries = this.entries.slice(upTo - this.offset);
    this.offset = upTo;
    this.offsetTerm = newOffsetTerm;
  }

  /** Membership entries with an index above `after`, scanning back from the end (the uncommitted tail). */
  membershipEntriesAfter(after: number): Entry[] {
    const out: Entry[] = [];
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const e = this.entries[i]!;
      if (e.index <= after) break;
      if (e.membership !== undefined) out.push(e);
    }
    return out;
  }

  /** The voter set in force at the end of the log. */
  membership(): Membership {
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const m = this.entries[i]!.membership;
      if (m !== undefined) return m;
    }
    return this.snapshot.membership;
  }
}

/** One atomic write, as a Ready asks for it. */
export interface PersistBatch {
  readonly snapshot?: { readonly meta: SnapshotMeta; readonly data: unknown };
  readonly entries: readonly Entry[];
  readonly hardState?: HardState;
}

/**
 * A node's simulated disk. Everything here survives a crash; writes not yet here (a persist still in
 * flight) do not. Snapshot data is stored with its meta: the state-machine snapshot store commits it
 * before the log is compacted, so a crash never leaves a compacted log without its snapshot.
 */
export class DurableStore {
  hardState: HardState = { term: 0, vote: 0, commit: 0 };
  snapshotData: unknown;
  readonly log: EntryLog;
  /** Completed persists, for statistics. */
  writes = 0;

  constructor(bootstrap: Membership, initialData: unknown) {
    this.log = new EntryLog({ index: 0, term: 0, membership: bootstrap });
    this.snapshotData = initialData;
  }

  get snapshot(): SnapshotMeta {
    return this.log.snapshot;
  }

  /** Applies a batch atomically: snapshot (replacing the whole log), then entries, then hard state. */
  persist(batch: PersistBatch): void {
    if (batch.snapshot !== undefined) {
      this.log.restore(batch.snapshot.meta);
      this.snapshotData = batch.snapshot.data;
    }
    this.log.append(batch.entries);
    if (batch.hardState !== undefined) this.hardState = batch.hardState;
    this.writes++;
  }

  /** A local snapshot, committed to the snapshot store, then the log discarded through `through`. */
  compact(meta: SnapshotMeta, data: unknown, through: number): void {
    if (meta.index <= this.log.snapshot.index) return;
    this.snapshotData = data;
    this.log.compact(meta, through);
  }

  /** What a restarting driver reads back: the state the core is rebuilt from. */
  initialState(): InitialState {
    return {
      hardState: this.hardState,
      snapshot: this.log.snapshot,
      entries: this.log.entries.slice(),
      applied: this.log.snapshot.index,
    };
  }
}
