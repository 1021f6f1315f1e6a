import type { Acl } from '../jute/records.js';
import type { Stat, ZnodeTreeSnapshot } from '../types.js';

/**
 * One ZooKeeper write, with paths already translated to tree paths (chroot removed). `opCode` is the
 * request type the client used (create 1, create2 15, createContainer 19, createTTL 21, ...).
 */
export type WriteOp =
  | {
      readonly op: 'create';
      readonly opCode: number;
      readonly path: string;
      readonly data: Uint8Array | null;
      readonly acl: readonly Acl[];
      /** CreateMode flags: 1 ephemeral, 2 sequential, 4 container, 5/6 TTL. */
      readonly flags: number;
      readonly ttl?: bigint;
    }
  | { readonly op: 'delete'; readonly opCode: number; readonly path: string; readonly version: number }
  | {
      readonly op: 'setData';
      readonly opCode: number;
      readonly path: string;
      readonly data: Uint8Array | null;
      readonly version: number;
    }
  | {
      readonly op: 'setACL';
      readonly opCode: number;
      readonly path: string;
      readonly acl: readonly Acl[];
      readonly version: number;
    }
  | { readonly op: 'check'; readonly opCode: number; readonly path: string; readonly version: number };

export interface WriteContext {
  readonly sessionId: bigint;
  /** Identities the client proved with `auth` (digest) plus its ip, as ZooKeeper records them. */
  readonly authIds: readonly { readonly scheme: string; readonly id: string }[];
  /** True for `multi` (all ops succeed or none do). */
  readonly multi: boolean;
  /** The tree the client has been reading (the server's current snapshot). */
  readonly snapshot: ZnodeTreeSnapshot;
}

/** What one successful op returned; anything left out is read back from the tree after the write. */
export interface WriteOpResult {
  /** The tree path actually created (differs from the request for sequential znodes). */
  readonly path?: string;
  readonly stat?: Stat;
}

export type WriteResult =
  | {
      readonly ok: true;
      /** The zxid at which the tree shows the write: the reply waits for the tree to reach it. */
      readonly zxid: bigint;
      readonly results?: readonly WriteOpResult[];
    }
  | {
      readonly ok: false;
      /** A ZooKeeper error code (ErrorCode), e.g. NONODE, BADVERSION, NODEEXISTS, UNIMPLEMENTED. */
      readonly error: number;
      /** For multi: the op that failed (earlier ops report OK, later ones RUNTIMEINCONSISTENCY). */
      readonly failedIndex?: number;
      /** Why, for the server's log. */
      readonly reason?: string;
    };

/**
 * Applies ZooKeeper writes (the lead maps Kafka admin writes to controller operations). Without one,
 * the server answers every write with an error code (ZooKeeperServerOptions.refusedWriteError).
 */
export interface WriteHandler {
  write(ops: readonly WriteOp[], ctx: WriteContext): Promise<WriteResult>;
}
