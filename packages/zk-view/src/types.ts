/**
 * The contract between the znode view of the metadata (layout.ts / tree.ts: what Kafka wrote into
 * ZooKeeper, derived from a MetadataImage) and the ZooKeeper wire-protocol server (server/), which
 * serves any ZnodeTree.
 */

/** ZooKeeper's Stat, field for field (jute `org.apache.zookeeper.data.Stat`). */
export interface Stat {
  /** zxid of the change that created the znode. */
  readonly czxid: bigint;
  /** zxid of the last data change. */
  readonly mzxid: bigint;
  /** ms since the epoch of creation / last data change. */
  readonly ctime: bigint;
  readonly mtime: bigint;
  /** Number of data changes (setData) since creation. */
  readonly version: number;
  /** Number of child changes (create/delete of a child) since creation. */
  readonly cversion: number;
  /** Number of ACL changes. */
  readonly aversion: number;
  /** Session id owning an ephemeral znode, else 0. */
  readonly ephemeralOwner: bigint;
  readonly dataLength: number;
  readonly numChildren: number;
  /** zxid of the last change to the children. */
  readonly pzxid: bigint;
}

/**
 * A znode as one snapshot shows it. A frozen `stat` promises that this Znode (data and stat) never
 * changes: the server may then keep its encoding (jute/records.ts).
 */
export interface Znode {
  /** null for znodes Kafka created without data (ZooKeeper returns an empty/-1 length buffer). */
  readonly data: Uint8Array | null;
  readonly stat: Stat;
}

export type ZnodeChangeKind = 'created' | 'deleted' | 'data' | 'children';

export interface ZnodeChange {
  readonly path: string;
  readonly kind: ZnodeChangeKind;
}

/**
 * A read-only znode tree at one zxid. Paths are absolute, without a trailing slash ('/' is the root);
 * a chroot is applied by the server, not the tree.
 */
export interface ZnodeTreeSnapshot {
  /** The zxid this snapshot reflects (derived from the metadata log offset; monotonic). */
  readonly zxid: bigint;
  get(path: string): Znode | undefined;
  /**
   * The stat of `path` alone, equal to `get(path)?.stat`, where a snapshot can answer it without
   * building the data (a write's precondition and its reply need only the stat). Optional.
   */
  stat?(path: string): Stat | undefined;
  /** Child names (not paths), unsorted, or undefined when `path` does not exist. */
  children(path: string): readonly string[] | undefined;
}

/** A live tree: the current snapshot plus change notifications in zxid order. */
export interface ZnodeTree {
  current(): ZnodeTreeSnapshot;
  /**
   * Calls `listener` after each change of the tree, with the new snapshot and the znode changes that
   * lead to it (as ZooKeeper would fire watches: data change, creation, deletion, children change).
   * Returns an unsubscribe function.
   *
   * `wantsChanges`, asked before each change: whether this listener needs the znode changes now (a
   * server with no watch set does not). When no listener wants them a tree may skip computing them and
   * pass an empty list: a batch of offset commits would otherwise cost a change per commit on every
   * node. Absent: always wanted.
   */
  onChange(
    listener: (snapshot: ZnodeTreeSnapshot, changes: readonly ZnodeChange[]) => void,
    wantsChanges?: () => boolean,
  ): () => void;
}

/** `snapshot.stat(path)` where the snapshot has it, else the stat of `get(path)`. */
export function statOf(snapshot: ZnodeTreeSnapshot, path: string): Stat | undefined {
  return snapshot.stat !== undefined ? snapshot.stat(path) : snapshot.get(path)?.stat;
}
