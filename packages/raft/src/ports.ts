/**
 * The ports the driver runs the core on. Each is small, and each states its ordering and durability
 * promise; adapters (LevelDB, TCP, in-memory for tests) implement them.
 */
import type { Entry, HardState, NodeId, SnapshotMeta } from './core/types.js';

/**
 * The replicated log on disk.
 * Ordering: calls are never concurrent (the driver awaits each before the next).
 */
export interface LogStore {
  /** Every stored entry, ascending and contiguous, for recovery after a restart. */
  loadEntries(): Promise<Entry[]>;
  /** Discards entries at or below `index` (they are covered by a snapshot). Need not be synced. */
  discardThrough(index: number): Promise<void>;
}

/**
 * currentTerm and votedFor (Raft Figure 2), plus the commit index as a hint.
 * Ordering: as LogStore.
 */
export interface StableStore {
  /** The last saved hard state, or term 0 / vote 0 / commit 0 on a fresh store. */
  loadHardState(): Promise<HardState>;
}

/** One durable, atomic write of what a Ready asks to persist. */
export interface PersistBatch {
  /** Entries to store; every stored entry at or after `entries[0].index` is removed first. */
  readonly entries: readonly Entry[];
  readonly hardState?: HardState;
  /**
   * A snapshot that replaces the whole log (a follower too far behind): every stored entry is removed
   * before `entries` (which then follow the snapshot) are written.
   */
  readonly snapshot?: SnapshotMeta;
  /**
   * False when the batch holds nothing that promises durability (only a new commit hint): it is then
   * written without an fsync. Default true.
   */
  readonly sync?: boolean;
}

/**
 * The storage the driver persists through. `persist` is the only write on the critical path:
 * it resolves only after the batch is on disk (fsync, unless `sync` is false), and a crash leaves
 * either all of it or none. Many proposals share one `persist` call (group commit). Writes
 * (`persist`, `discardThrough`) take effect in call order even when called without awaiting.
 */
export interface RaftStorage extends LogStore, StableStore {
  persist(batch: PersistBatch): Promise<void>;
  close(): Promise<void>;
}

/**
 * Snapshots of the state machine, stored as byte chunks.
 * Promise: a snapshot is visible to `latest`/`read` only after `commit()` resolved, and then it is durable.
 */
export interface SnapshotStore {
  create(meta: SnapshotMeta): SnapshotSink;
  /** The newest committed snapshot, if any. */
  latest(): Promise<SnapshotMeta | undefined>;
  /** The chunks of a committed snapshot, in order. Throws `SnapshotNotFoundError` if it is gone. */
  read(index: number): AsyncIterable<Uint8Array>;
  /** Removes every committed snapshot older than `index`. */
  pruneBefore(index: number): Promise<void>;
}

export interface SnapshotSink {
  write(chunk: Uint8Array): Promise<void>;
  /** Makes the snapshot durable and visible. */
  commit(): Promise<void>;
  /** Drops what was written; the snapshot never becomes visible. */
  abort(): Promise<void>;
}

/**
 * Delivers opaque payloads between nodes.
 * Promise: payloads to one peer arrive in the order sent, or not at all (a full queue or a broken
 * connection drops them; Raft retries). `send` never blocks and never throws.
 */
export interface Transport<T> {
  send(to: NodeId, payload: T): void;
  /** Installs the handler for inbound payloads; `from` is the node id proven by the handshake. */
  onReceive(handler: (from: NodeId, payload: T) => void): void;
  /** Where to reach `id`; may be called again when an address changes. */
  setPeerAddress(id: NodeId, address: string): void;
  close(): Promise<void>;
}

/**
 * The application's replicated state machine.
 * Ordering: `apply`, `snapshot` and `restore` are called from one loop, never concurrently with each other.
 */
export interface StateMachine {
  /** Applies committed entries in log order (Normal, NoOp and Membership entries alike). */
  apply(entries: readonly Entry[]): void | Promise<void>;
  /**
   * Captures the state as of the last applied entry. The returned iterable may be consumed later,
   * concurrently with further `apply` calls, and must still yield that captured state.
   */
  snapshot(): AsyncIterable<Uint8Array> | Iterable<Uint8Array>;
  /** Replaces the whole state with a snapshot's bytes. */
  restore(meta: SnapshotMeta, chunks: AsyncIterable<Uint8Array>): Promise<void>;
}
