/**
 * The kbroker client protocol: what travels on a broker's client listener (`--listener`, default
 * 127.0.0.1:9092). Shared by the client (which owns it) and the broker (which serves it).
 *
 * Framing: each frame is a 4-byte big-endian body length followed by a msgpackr body (plain maps, no
 * records extension). A server refuses a declared length above its limit before allocating it, and
 * closes the connection.
 *
 * Flow: the client sends `hello` first; then any number of requests, each with a connection-unique
 * `id`, answered in any order by a response with the same `id`. A `watch` request is answered once
 * (with the watch id) and then streams `event` frames until `unwatch` or the connection closes.
 */

export const PROTOCOL_VERSION = 1;
/** The largest frame either side sends or accepts by default. */
export const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024;
export const DEFAULT_CLIENT_PORT = 9092;

export interface RequestFrame<A extends ApiName = ApiName> {
  readonly id: number;
  readonly api: A;
  /** How long the server may work on it before answering REQUEST_TIMED_OUT. */
  readonly timeoutMs?: number;
  readonly body: ApiRequest<A>;
}

export interface ResponseFrame {
  readonly id: number;
  readonly body?: unknown;
  readonly error?: WireError;
}

/** A watch event frame (no `id`: it belongs to the watch named by `watch`). */
export interface EventFrame {
  readonly watch: number;
  readonly events: readonly MetadataEvent[];
  /**
   * The watch ended on the server's side (e.g. OFFSET_OUT_OF_RANGE: a snapshot replaced the node's
   * state, so events after the watcher's offset cannot be replayed one by one; re-read the state).
   */
  readonly error?: { readonly code: string; readonly message: string };
}

export interface WireError {
  /** Stable Kafka-style name: NOT_CONTROLLER, TOPIC_ALREADY_EXISTS, ... */
  readonly code: string;
  /** Kafka's numeric protocol error code; -1 when there is none. */
  readonly errorCode: number;
  readonly message: string;
  readonly retriable: boolean;
  /** NOT_CONTROLLER / NOT_LEADER: who is, when known. */
  readonly leaderId?: number;
  readonly leaderEndpoint?: Endpoint;
}

export interface Endpoint {
  readonly host: string;
  readonly port: number;
}

/** Per-item result of a batch operation (Kafka's per-topic / per-partition errors). */
export interface ItemResult {
  /** 0 on success. */
  readonly errorCode: number;
  readonly errorMessage: string | null;
  /** Stable name of the error, or null on success. */
  readonly error: string | null;
}

export type ConfigResourceKind = 'topic' | 'broker';

export interface BrokerInfo {
  readonly id: number;
  readonly epoch: number;
  readonly host: string;
  readonly port: number;
  readonly rack: string | null;
  readonly fenced: boolean;
  readonly inControlledShutdown: boolean;
}

export interface PartitionInfo {
  readonly partition: number;
  readonly leader: number;
  readonly leaderEpoch: number;
  readonly partitionEpoch: number;
  readonly replicas: readonly number[];
  readonly isr: readonly number[];
}

export interface TopicInfo extends ItemResult {
  readonly name: string;
  readonly topicId: string | null;
  readonly partitions: readonly PartitionInfo[];
}

export interface QuorumReplica {
  readonly nodeId: number;
  readonly logEndOffset: number;
  readonly lag: number;
  readonly lastFetchTimestamp: number;
  readonly lastCaughtUpTimestamp: number;
  readonly status: 'Leader' | 'Follower' | 'Observer';
}

/** The fields of `kafka-metadata-quorum describe --status` and `--replication`. */
export interface QuorumInfo {
  readonly clusterId: string;
  readonly leaderId: number;
  readonly leaderEpoch: number;
  readonly highWatermark: number;
  readonly maxFollowerLag: number;
  readonly maxFollowerLagTimeMs: number;
  readonly currentVoters: readonly { readonly id: number; readonly endpoints: readonly string[] }[];
  readonly currentObservers: readonly { readonly id: number }[];
  readonly replicas: readonly QuorumReplica[];
}

/** A change to the metadata, from the log at `offset`. */
export type MetadataEvent = { readonly offset: number } & (
  | {
      readonly type: 'topic-created';
      readonly topic: string;
      readonly topicId: string;
      readonly partitions: number;
    }
  | { readonly type: 'topic-deleted'; readonly topic: string; readonly topicId: string }
  | { readonly type: 'partitions-added'; readonly topic: string; readonly from: number; readonly to: number }
  | {
      readonly type: 'partition-changed';
      readonly topic: string;
      readonly partition: number;
      readonly leader: number;
      readonly previousLeader: number;
      readonly isr: readonly number[];
      readonly leaderEpoch: number;
    }
  | {
      readonly type:
        | 'broker-registered'
        | 'broker-fenced'
        | 'broker-unfenced'
        | 'broker-unregistered'
        | 'broker-controlled-shutdown';
      readonly brokerId: number;
    }
  | {
      readonly type: 'config-changed';
      readonly resourceType: ConfigResourceKind;
      readonly resourceName: string;
      readonly name: string;
      readonly value: string | null;
    }
  | { readonly type: 'offsets-committed'; readonly groupId: string; readonly partitions: number }
  | { readonly type: 'offsets-deleted'; readonly groupId: string }
);

/**
 * Read-your-writes: a read may carry the highest metadata offset its client has seen (from a write's
 * response, a watch event or an earlier read); the node answers only once its image has applied that
 * offset (or times out), so a client never reads state older than what it already saw, on any broker.
 */
export interface ReadConsistency {
  readonly minOffset?: number;
  /**
   * Linearizable: the answer reflects every write acknowledged before the request was sent. The Raft
   * leader confirms its leadership with a quorum (read-index) before reading its image; another node
   * forwards the request to it. Slower than a local read, and unavailable without a quorum.
   */
  readonly linearizable?: boolean;
}

/** APIs answered from a node's local image, which honour `minOffset`. */
export const READ_APIS: ReadonlySet<string> = new Set([
  'describeCluster',
  'listTopics',
  'describeTopics',
  'describeConfigs',
  'fetchOffsets',
  'listGroups',
  'metadataStatus',
  'migrationStatus',
]);

/** A ZooKeeper migration's progress as the metadata records it (`kbroker migrate status`). */
export interface MigrationStatus {
  readonly migrationId: string;
  readonly source: string;
  readonly phase: 'in-progress' | 'migrated';
  readonly batchesDone: number;
  readonly batchesTotal: number;
  readonly recordsDone: number;
  readonly recordsTotal: number;
  readonly counts: Readonly<Record<string, number>>;
  readonly zkControllerEpoch: number;
  readonly startedTimeMs: number;
  /** Metadata offset and time of the last batch. */
  readonly changedOffset: number;
  readonly changedTimeMs: number;
}

// ---- Znodes: the metadata as Kafka's ZooKeeper znode tree ------------------------------------

/**
 * ZooKeeper's Stat on the wire. msgpack has no portable 64-bit integer, so the 64-bit ids (zxids and
 * the ephemeral owner's session id) travel as decimal strings (`BigInt(stat.czxid)` recovers them);
 * times are ms since the epoch and every other field a 32-bit count, all plain numbers.
 */
export interface ZnodeStat {
  /** zxid of the change that created the znode (decimal string of a 64-bit integer). */
  readonly czxid: string;
  /** zxid of the last data change (decimal string). */
  readonly mzxid: string;
  /** ms since the epoch of creation. */
  readonly ctime: number;
  /** ms since the epoch of the last data change. */
  readonly mtime: number;
  /** Number of data changes since creation. */
  readonly version: number;
  /** Number of child changes since creation. */
  readonly cversion: number;
  /** Number of ACL changes. */
  readonly aversion: number;
  /** Session id owning an ephemeral znode, else '0' (decimal string). */
  readonly ephemeralOwner: string;
  readonly dataLength: number;
  readonly numChildren: number;
  /** zxid of the last change to the children (decimal string). */
  readonly pzxid: string;
}

/** What fired a znode watch (ZooKeeper's `Watcher.Event.EventType` names). */
export type ZnodeEventType = 'NodeCreated' | 'NodeDeleted' | 'NodeDataChanged' | 'NodeChildrenChanged';

/** One fired znode watch. */
export interface ZnodeWatchEvent {
  readonly type: ZnodeEventType;
  /** Absolute path of the znode that changed. */
  readonly path: string;
  /** The metadata offset of the change (the client reads at or after it from then on). */
  readonly offset: number;
  /** zxid of the tree after the change (decimal string). */
  readonly zxid: string;
  /** The persistent watch (`addZnodeWatch`'s `tag`) this event is for; absent for one-shot watches. */
  readonly tag?: number;
}

/**
 * Znode watch events, on the connection's znode channel (the `watch` id `znodeSession` answered).
 * Same framing as an `EventFrame`, so clients route it by `watch` id like metadata watch events.
 *
 * Ordering: the node writes a watch's event frame as soon as the change is applied, before it answers
 * any later request on that connection, so a client sees the event before a read showing the change.
 */
export interface ZnodeEventFrame {
  readonly watch: number;
  readonly events: readonly ZnodeWatchEvent[];
}

/** Options of the znode reads: `watch` leaves a one-shot watch (ZooKeeper's) on this connection. */
export type ZnodeReadRequest = { readonly path: string; readonly watch?: boolean } & ReadConsistency;

/** Every answer of a znode read: the metadata offset and zxid of the snapshot it was read from. */
export interface ZnodeReadPosition {
  readonly offset: number;
  readonly zxid: string;
}

/** The znode reads: served from the node's znode tree like the other reads, honouring `minOffset`. */
export const ZNODE_READ_APIS: ReadonlySet<string> = new Set([
  'getZnodeData',
  'getZnodeChildren',
  'znodeExists',
  'readZnodes',
]);

/** Most paths one `readZnodes` request may name. */
export const MAX_READ_ZNODES = 10_000;

/** The error code of a read of a znode that does not exist (ZooKeeper's NONODE). */
export const NO_NODE = 'NO_NODE';

/** Znode APIs, answered by any node (connection-scoped: watches belong to the connection). */
export interface ZnodeApis {
  /**
   * Opens (or returns) this connection's znode event channel: the `watch` id of the frames carrying
   * its znode watch events. Required before any znode watch is set on the connection.
   */
  znodeSession: { req: Record<string, never>; res: { watch: number } };
  /** A znode's data and stat; NO_NODE when it does not exist (and no watch is left then). */
  getZnodeData: {
    req: ZnodeReadRequest;
    res: { data: Uint8Array | null; stat: ZnodeStat } & ZnodeReadPosition;
  };
  /** A znode's child names (sorted) and stat; NO_NODE when it does not exist. */
  getZnodeChildren: {
    req: ZnodeReadRequest;
    res: { children: readonly string[]; stat: ZnodeStat } & ZnodeReadPosition;
  };
  /**
   * Many znodes at once, all from one snapshot of the tree (no watches): each path's data and stat,
   * and its sorted children when `children` is set; null for a path that does not exist. At most
   * MAX_READ_ZNODES paths. For bulk comparisons (`kbroker migrate verify`).
   */
  readZnodes: {
    req: { paths: readonly string[]; children?: boolean } & ReadConsistency;
    res: {
      znodes: readonly ({
        data: Uint8Array | null;
        stat: ZnodeStat;
        children?: readonly string[];
      } | null)[];
    } & ZnodeReadPosition;
  };
  /** A znode's stat, or null; the watch is left either way (it fires on creation too). */
  znodeExists: { req: ZnodeReadRequest; res: { stat: ZnodeStat | null } & ZnodeReadPosition };
  /**
   * A persistent watch on `path` (and, when `recursive`, its whole subtree), until removed or the
   * connection closes. `tag` is chosen by the client (unique on the connection) and marks its events.
   * Recursive watches report NodeCreated, NodeDeleted and NodeDataChanged (not NodeChildrenChanged),
   * as ZooKeeper's PERSISTENT_RECURSIVE mode does.
   */
  addZnodeWatch: {
    req: { path: string; recursive: boolean; tag: number };
    res: { offset: number; zxid: string };
  };
  removeZnodeWatch: { req: { tag: number }; res: Record<string, never> };
}

/** Every API: its request body and its response body. */
export interface Apis extends ZnodeApis {
  hello: {
    req: { clientId: string; protocolVersion: number; clusterId?: string };
    res: {
      protocolVersion: number;
      clusterId: string;
      nodeId: number;
      roles: readonly ('broker' | 'controller')[];
    };
  };
  // ---- Authentication (SCRAM-SHA-256, see scram.ts): right after hello, when the node requires it --
  saslStart: {
    req: { mechanism: string; user: string; clientNonce: string };
    res: { salt: string; iterations: number; nonce: string };
  };
  saslFinish: { req: { nonce: string; proof: string }; res: { serverSignature: string; principal: string } };
  // ---- Reads: served by any node from its metadata image --------------------------------------
  describeCluster: {
    req: ReadConsistency;
    res: {
      clusterId: string;
      controllerId: number;
      controllerEndpoint: Endpoint | null;
      brokers: readonly BrokerInfo[];
      metadataOffset: number;
    };
  };
  listTopics: {
    req: ReadConsistency;
    res: { topics: readonly { name: string; topicId: string; partitions: number }[] };
  };
  describeTopics: {
    req: { names?: readonly string[] } & ReadConsistency;
    res: { topics: readonly TopicInfo[] };
  };
  describeConfigs: {
    req: {
      resources: readonly { resourceType: ConfigResourceKind; resourceName: string }[];
    } & ReadConsistency;
    res: {
      resources: readonly ({
        resourceType: ConfigResourceKind;
        resourceName: string;
        configs: Readonly<Record<string, string>>;
      } & ItemResult)[];
    };
  };
  fetchOffsets: {
    req: { groupId: string; topics?: readonly string[] } & ReadConsistency;
    res: {
      offsets: readonly {
        topic: string;
        partition: number;
        offset: number;
        metadata: string;
        commitTimestampMs: number;
      }[];
    };
  };
  listGroups: {
    req: ReadConsistency;
    res: { groups: readonly { groupId: string; partitions: number }[] };
  };
  /** The node's metadata position (how far its image has applied the log). */
  metadataStatus: {
    /** `digest`: also answer a SHA-256 of the node's whole image at `offset` (to compare nodes). */
    req: ReadConsistency & { readonly digest?: boolean };
    res: { offset: number; caughtUp: boolean; fenced: boolean | null; digest?: string };
  };
  // ---- Writes: run by the active controller (other nodes forward them) --------------------------
  createTopics: {
    req: {
      topics: readonly {
        name: string;
        numPartitions: number;
        replicationFactor: number;
        assignments?: readonly { partitionIndex: number; brokerIds: readonly number[] }[];
        configs?: Readonly<Record<string, string>>;
      }[];
      validateOnly?: boolean;
    };
    res: {
      topics: readonly ({
        name: string;
        topicId: string | null;
        numPartitions: number;
        replicationFactor: number;
      } & ItemResult)[];
      offset: number;
    };
  };
  deleteTopics: {
    req: { names?: readonly string[]; topicIds?: readonly string[] };
    res: {
      topics: readonly ({ name: string | null; topicId: string | null } & ItemResult)[];
      offset: number;
    };
  };
  createPartitions: {
    req: {
      topics: readonly { name: string; count: number; assignments?: readonly (readonly number[])[] }[];
      validateOnly?: boolean;
    };
    res: { topics: readonly ({ name: string } & ItemResult)[]; offset: number };
  };
  alterConfigs: {
    req: {
      resources: readonly {
        resourceType: ConfigResourceKind;
        resourceName: string;
        alterations: readonly { name: string; op: 'set' | 'delete'; value?: string }[];
      }[];
      validateOnly?: boolean;
    };
    res: {
      resources: readonly ({ resourceType: ConfigResourceKind; resourceName: string } & ItemResult)[];
      offset: number;
    };
  };
  commitOffsets: {
    req: {
      groupId: string;
      offsets: readonly { topic: string; partition: number; offset: number; metadata?: string }[];
    };
    res: { offsets: readonly ({ topic: string; partition: number } & ItemResult)[]; offset: number };
  };
  deleteOffsets: { req: { groupId: string; topic?: string; partition?: number }; res: { offset: number } };
  electLeaders: {
    req: {
      type: 'preferred' | 'unclean';
      partitions?: readonly { topic: string; partitions: readonly number[] }[];
    };
    res: { results: readonly ({ topic: string; partition: number } & ItemResult)[]; offset: number };
  };
  /**
   * One batch of a migration from a ZooKeeper layout (`kbroker migrate run`): metadata records plus the
   * progress they bring, applied atomically. Idempotent: a batch whose sequence is already applied
   * writes nothing and answers `applied: false`.
   */
  migrateBatch: {
    req: {
      migrationId: string;
      source: string;
      clusterId: string;
      sequence: number;
      batchesTotal: number;
      recordsTotal: number;
      counts: Readonly<Record<string, number>>;
      zkControllerEpoch: number;
      /** Metadata records (Topic, Partition, Config, OffsetCommit, FeatureLevel) as plain maps. */
      records: readonly Readonly<Record<string, unknown>>[];
    };
    res: { applied: boolean; state: MigrationStatus | null; offset: number };
  };
  /** The migration state in this node's image (null when no migration ever ran). */
  migrationStatus: {
    req: ReadConsistency;
    res: { state: MigrationStatus | null; clusterId: string; offset: number };
  };
  // ---- The quorum: served by the Raft leader ------------------------------------------------
  describeQuorum: { req: Record<string, never>; res: QuorumInfo };
  addVoter: {
    req: { nodeId: number; address: string };
    res: { voters: readonly { id: number; address: string }[] };
  };
  removeVoter: { req: { nodeId: number }; res: { voters: readonly { id: number; address: string }[] } };
  // ---- Broker -> controller ------------------------------------------------------------------
  registerBroker: {
    req: {
      brokerId: number;
      incarnationId: string;
      clusterId: string;
      endpoints: readonly { name: string; host: string; port: number; securityProtocol: string }[];
      rack: string | null;
    };
    res: { brokerEpoch: number };
  };
  brokerHeartbeat: {
    req: {
      brokerId: number;
      brokerEpoch: number;
      currentMetadataOffset: number;
      wantFence: boolean;
      wantShutDown: boolean;
    };
    res: { isCaughtUp: boolean; isFenced: boolean; inControlledShutdown: boolean; shouldShutDown: boolean };
  };
  // ---- ZooKeeper sessions of the ZooKeeper-compatible view (broker -> controller) ---------------
  /** Session ids are 16 lower-case hex digits, passwords 32; `offset`: where the change committed. */
  zkSessionCreate: {
    req: { ownerId: number; timeoutMs: number };
    res: { sessionId: string; password: string; timeoutMs: number; offset: number };
  };
  zkSessionAttach: {
    req: { sessionId: string; password: string; ownerId: number; timeoutMs: number };
    res: { valid: boolean; offset: number };
  };
  zkSessionClose: { req: { sessionId: string }; res: { offset: number } };
  /** The sessions a broker's clients were heard on since its last report; `unknown`: not alive. */
  zkSessionHeartbeat: { req: { ownerId: number; sessionIds: readonly string[] }; res: { unknown: string[] } };
  alterPartition: {
    req: {
      brokerId: number;
      brokerEpoch: number;
      topicId: string;
      partitionId: number;
      leaderEpoch: number;
      partitionEpoch: number;
      newIsr: readonly { brokerId: number; brokerEpoch: number }[];
    };
    res: { leader: number; leaderEpoch: number; isr: readonly number[]; partitionEpoch: number } & ItemResult;
  };
  /** ISR changes of many partitions from one partition leader (Kafka's AlterPartition carries many). */
  alterPartitions: {
    req: {
      brokerId: number;
      brokerEpoch: number;
      partitions: readonly {
        topicId: string;
        partitionId: number;
        leaderEpoch: number;
        partitionEpoch: number;
        newIsr: readonly { brokerId: number; brokerEpoch: number }[];
      }[];
    };
    res: {
      partitions: ({
        topicId: string;
        partitionId: number;
        leader: number;
        leaderEpoch: number;
        isr: readonly number[];
        partitionEpoch: number;
      } & ItemResult)[];
    };
  };
  // ---- Watches (answered with the watch id; events follow as EventFrames) -------------------------
  watch: { req: { fromOffset?: number }; res: { watch: number; offset: number } };
  unwatch: { req: { watch: number }; res: Record<string, never> };
}

export type ApiName = keyof Apis;
export type ApiRequest<A extends ApiName> = Apis[A]['req'];
export type ApiResponse<A extends ApiName> = Apis[A]['res'];

/** APIs only the active controller runs; other nodes forward them. */
export const CONTROLLER_APIS: ReadonlySet<ApiName> = new Set<ApiName>([
  'createTopics',
  'deleteTopics',
  'createPartitions',
  'alterConfigs',
  'commitOffsets',
  'deleteOffsets',
  'electLeaders',
  'migrateBatch',
  'registerBroker',
  'brokerHeartbeat',
  'zkSessionCreate',
  'zkSessionAttach',
  'zkSessionClose',
  'zkSessionHeartbeat',
  'alterPartition',
  'alterPartitions',
  'describeQuorum',
  'addVoter',
  'removeVoter',
]);

/** APIs that may be retried after an unknown outcome (they change nothing, or repeating them is harmless). */
export const IDEMPOTENT_APIS: ReadonlySet<ApiName> = new Set<ApiName>([
  'hello',
  'describeCluster',
  'listTopics',
  'describeTopics',
  'describeConfigs',
  'fetchOffsets',
  'listGroups',
  'metadataStatus',
  'describeQuorum',
  'commitOffsets',
  'alterConfigs',
  'electLeaders',
  'zkSessionAttach',
  'zkSessionClose',
  'zkSessionHeartbeat',
  'migrateBatch',
  'migrationStatus',
  'readZnodes',
]);
