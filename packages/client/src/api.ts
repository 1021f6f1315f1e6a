/**
 * The public shape of @kbroker/client, modelled on kafkajs (`new Kafka({ brokers })`, `kafka.admin()`)
 * so habits carry over, plus what KRaft-era users ask for: quorum status, voter management and
 * metadata watches. The implementation lives in `client.ts`; this file is the contract.
 */
import type {
  ApiName,
  ApiRequest,
  ApiResponse,
  MetadataEvent,
  QuorumInfo,
  ZnodeStat,
  ZnodeWatchEvent,
} from './protocol.js';

export interface RetryOptions {
  /** How many times a retriable failure is retried. Default 5. */
  readonly retries?: number;
  /** First backoff in ms. Default 100. */
  readonly initialRetryTimeMs?: number;
  /** Backoff cap in ms. Default 5000. */
  readonly maxRetryTimeMs?: number;
  /** Backoff multiplier per attempt. Default 2. */
  readonly multiplier?: number;
  /** Jitter as a fraction of each backoff (0..1). Default 0.2. */
  readonly factor?: number;
}

export interface KbrokerConfig {
  /** Bootstrap brokers, `host:port`; the rest of the cluster is discovered from them. */
  readonly brokers: readonly string[];
  readonly clientId?: string;
  /** Per-request timeout. Default 30000. */
  readonly requestTimeoutMs?: number;
  /** Timeout to establish a connection. Default 3000. */
  readonly connectionTimeoutMs?: number;
  readonly retry?: RetryOptions;
  /** Refuse brokers of another cluster. */
  readonly clusterId?: string;
  /** Connect over TLS: `true` trusts the system CAs; an object names the CA and a client certificate. */
  readonly tls?: true | ClientTls;
  /** Authenticate every connection (SCRAM-SHA-256; the password never travels). */
  readonly sasl?: ClientSasl;
}

/** TLS settings of a client (PEM contents, as `node:tls` takes them). */
export interface ClientTls {
  /** CAs trusted for the brokers' certificates; default the system's. */
  readonly ca?: string | Buffer | readonly (string | Buffer)[];
  /** A client certificate and key, for listeners that require one. */
  readonly cert?: string | Buffer;
  readonly key?: string | Buffer;
  /** Name checked against the broker certificates; default the host dialled. */
  readonly servername?: string;
  /** Default true: a broker certificate the CAs do not vouch for is refused. */
  readonly rejectUnauthorized?: boolean;
}

/** Credentials of a user the nodes know (`kbroker credential` makes their stored form). */
export interface ClientSasl {
  /** Only 'scram-sha-256'. */
  readonly mechanism?: 'scram-sha-256';
  readonly username: string;
  readonly password: string;
}

export interface ITopicConfig {
  readonly topic: string;
  /** Default: the cluster's `num.partitions`. */
  readonly numPartitions?: number;
  /** Default: the cluster's `default.replication.factor`. */
  readonly replicationFactor?: number;
  readonly replicaAssignment?: readonly {
    readonly partition: number;
    readonly replicas: readonly number[];
  }[];
  readonly configEntries?: readonly { readonly name: string; readonly value: string }[];
}

export interface PartitionMetadata {
  readonly partitionId: number;
  readonly leader: number;
  readonly leaderEpoch: number;
  readonly partitionEpoch: number;
  readonly replicas: readonly number[];
  readonly isr: readonly number[];
}

export interface TopicMetadata {
  readonly name: string;
  readonly topicId: string;
  readonly partitions: readonly PartitionMetadata[];
}

export const ConfigResourceTypes = { TOPIC: 'topic', BROKER: 'broker' } as const;
export type ConfigResourceTypes = (typeof ConfigResourceTypes)[keyof typeof ConfigResourceTypes];

export interface ClusterDescription {
  readonly clusterId: string;
  /** The active controller's node id (-1 when none). */
  readonly controller: number;
  readonly brokers: readonly {
    readonly nodeId: number;
    readonly host: string;
    readonly port: number;
    readonly rack: string | null;
    readonly fenced: boolean;
    readonly inControlledShutdown: boolean;
  }[];
}

export interface Admin {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  /**
   * Creates topics; resolves true when all were created, false when one already existed (as kafkajs).
   * With `waitForLeaders` (default true) it resolves only once every new partition has a leader
   * visible on the connected broker, so tests do not race the cluster. Other errors throw.
   */
  createTopics(options: {
    topics: readonly ITopicConfig[];
    waitForLeaders?: boolean;
    validateOnly?: boolean;
    timeout?: number;
  }): Promise<boolean>;
  deleteTopics(options: { topics: readonly string[]; timeout?: number }): Promise<void>;
  listTopics(): Promise<string[]>;
  /** Partitions with leader, replicas, ISR and epochs; all topics when `topics` is absent. */
  describeTopics(options?: { topics?: readonly string[] }): Promise<{ topics: TopicMetadata[] }>;
  /** kafkajs's name for describeTopics. */
  fetchTopicMetadata(options?: { topics?: readonly string[] }): Promise<{ topics: TopicMetadata[] }>;
  createPartitions(options: {
    topicPartitions: readonly {
      topic: string;
      count: number;
      assignments?: readonly (readonly number[])[];
    }[];
    validateOnly?: boolean;
  }): Promise<boolean>;
  describeConfigs(options: {
    resources: readonly { type: ConfigResourceTypes; name: string; configNames?: readonly string[] }[];
  }): Promise<{
    resources: {
      resourceType: ConfigResourceTypes;
      resourceName: string;
      configEntries: { configName: string; configValue: string }[];
    }[];
  }>;
  /** Incremental: sets the given entries (value null deletes one), leaving the others. */
  alterConfigs(options: {
    resources: readonly {
      type: ConfigResourceTypes;
      name: string;
      configEntries: readonly { name: string; value: string | null }[];
    }[];
    validateOnly?: boolean;
  }): Promise<void>;
  describeCluster(): Promise<ClusterDescription>;
  /** `kafka-metadata-quorum describe --status` and `--replication` in one. */
  describeQuorum(): Promise<QuorumInfo>;
  addVoter(options: { nodeId: number; address: string }): Promise<void>;
  removeVoter(options: { nodeId: number }): Promise<void>;
  /** Preferred (or unclean) leader election, for the given partitions or all. */
  electLeaders(options?: {
    preferred?: boolean;
    topicPartitions?: readonly { topic: string; partitions: readonly number[] }[];
  }): Promise<{ topic: string; partition: number; error: string | null }[]>;
}

export interface Offsets {
  commit(
    groupId: string,
    offsets: readonly { topic: string; partition: number; offset: number | string; metadata?: string }[],
  ): Promise<void>;
  /**
   * With `linearizable`, the answer reflects every commit acknowledged before the call (the Raft leader
   * confirms it still leads with a quorum first); otherwise it is read from one broker's image, which
   * never goes back in time for this client but may lag other clients' commits.
   */
  fetch(
    groupId: string,
    topics?: readonly string[],
    options?: { linearizable?: boolean },
  ): Promise<{ topic: string; partition: number; offset: number; metadata: string }[]>;
  listGroups(): Promise<{ groupId: string; partitions: number }[]>;
  deleteGroup(groupId: string): Promise<void>;
}

export interface WatchOptions {
  /** Resume after this metadata offset (events at or before it are not delivered again). */
  readonly fromOffset?: number;
}

/** A metadata watch: an async iterator and an event emitter of the same events, each exactly once. */
export interface MetadataWatch extends AsyncIterable<MetadataEvent> {
  /** The offset of the last event delivered (pass it as `fromOffset` to resume). */
  readonly offset: number;
  on(event: 'event', listener: (e: MetadataEvent) => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
  close(): Promise<void>;
}

export interface Metadata {
  watch(options?: WatchOptions): MetadataWatch;
}

/** Low-level access to any API of the protocol, with the client's routing and retries. */
export interface Rpc {
  request<A extends ApiName>(
    api: A,
    body: ApiRequest<A>,
    options?: { timeoutMs?: number },
  ): Promise<ApiResponse<A>>;
}

/** Options of a znode read. */
export interface ZnodeReadOptions {
  /**
   * Leave a one-shot watch (ZooKeeper's): the next change fires one `'watch'` event on `znodes()`.
   * getData: NodeDataChanged / NodeDeleted; getChildren: NodeChildrenChanged / NodeDeleted; exists:
   * NodeCreated / NodeDataChanged / NodeDeleted. A read that throws `NoNodeError` leaves none.
   */
  readonly watch?: boolean;
  /** Read at or after this metadata offset (in addition to the client's own read-your-writes offset). */
  readonly minOffset?: number;
  readonly timeoutMs?: number;
}

export interface ZnodeData {
  /** null for znodes Kafka created without data. */
  readonly data: Uint8Array | null;
  readonly stat: ZnodeStat;
}

export interface ZnodeChildren {
  /** Child names (not paths), sorted. */
  readonly children: readonly string[];
  readonly stat: ZnodeStat;
}

export interface ZnodeWatchOptions {
  /** Watch the whole subtree (ZooKeeper's PERSISTENT_RECURSIVE): created, deleted, data changed. */
  readonly recursive?: boolean;
}

/** A persistent znode watch: an async iterator and an event emitter of the same events. */
export interface ZnodeWatch extends AsyncIterable<ZnodeWatchEvent> {
  readonly path: string;
  readonly recursive: boolean;
  /** Resolves once the watch is registered on a broker (events from then on are delivered). */
  readonly ready: Promise<void>;
  on(event: 'event', listener: (e: ZnodeWatchEvent) => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
  close(): Promise<void>;
}

/**
 * kbroker's metadata as Kafka's ZooKeeper znode tree (`/brokers/ids`, `/brokers/topics/<t>/...`),
 * read through the client protocol. Reads and one-shot watches use one connection (the shared sticky
 * one), so ZooKeeper's ordering holds: a watch's event is emitted before any later read on this handle
 * returns state reflecting the change. Reads honour read-your-writes like the other reads.
 */
export interface Znodes {
  /** Data and stat; throws `NoNodeError` (code NO_NODE) when the znode does not exist. */
  getData(path: string, options?: ZnodeReadOptions): Promise<ZnodeData>;
  /** Child names and stat; throws `NoNodeError` when the znode does not exist. */
  getChildren(path: string, options?: ZnodeReadOptions): Promise<ZnodeChildren>;
  /** The stat, or null when the znode does not exist (a watch is left either way). */
  exists(path: string, options?: ZnodeReadOptions): Promise<ZnodeStat | null>;
  /** A persistent watch on `path` (its subtree when `recursive`), until closed. */
  watch(path: string, options?: ZnodeWatchOptions): ZnodeWatch;
  /** One-shot watch events (from reads with `watch: true`). */
  on(event: 'watch', listener: (e: ZnodeWatchEvent) => void): this;
  off(event: 'watch', listener: (e: ZnodeWatchEvent) => void): this;
}
