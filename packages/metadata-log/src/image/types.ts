/**
 * The read side of the metadata image: frozen, shared between versions, safe to hold across awaits.
 * Implementations live beside this file; the controller and every reader depend only on these shapes.
 */
import type { ConfigResourceType, Endpoint, LeaderRecoveryState, MigrationStateRecord } from '../records.js';

/** Which log position an image reflects. */
export interface Provenance {
  /** Raft index of the last batch applied (0 for the empty image). */
  readonly offset: number;
  /** Raft term of that batch. */
  readonly epoch: number;
  /** The batch's timestamp. */
  readonly timestampMs: number;
}

export interface BrokerRegistration {
  readonly id: number;
  /** The offset of the RegisterBrokerRecord (KRaft's broker epoch). */
  readonly epoch: number;
  readonly incarnationId: string;
  readonly endpoints: readonly Endpoint[];
  readonly rack: string | null;
  readonly fenced: boolean;
  readonly inControlledShutdown: boolean;
  readonly registeredTimeMs: number;
}

export interface ClusterImage {
  /** Empty until the bootstrap ClusterRecord is applied. */
  readonly clusterId: string;
  /** Offset and time of the ClusterRecord that set the current cluster id (0 until set). */
  readonly clusterIdOffset: number;
  readonly clusterIdTimeMs: number;
  /**
   * How many times a broker stopped being both registered and unfenced (fenced, unregistered, or
   * replaced by a new registration while unfenced): what a registry of live brokers has seen leave.
   */
  readonly unfencedRemovals: number;
  /** Offset of the last change to the set of unfenced registrations (0: never changed). */
  readonly unfencedChangedOffset: number;
  broker(id: number): BrokerRegistration | undefined;
  brokers(): IterableIterator<BrokerRegistration>;
  readonly brokerCount: number;
  /** The client endpoints a controller registered (RegisterControllerRecord). */
  controller(id: number): ControllerRegistration | undefined;
  controllers(): IterableIterator<ControllerRegistration>;
}

export interface ControllerRegistration {
  readonly id: number;
  readonly endpoints: readonly Endpoint[];
}

export interface PartitionRegistration {
  /** Preferred order: replicas[0] is the preferred leader. */
  readonly replicas: readonly number[];
  readonly isr: readonly number[];
  /** -1 when there is no leader. */
  readonly leader: number;
  readonly leaderEpoch: number;
  readonly partitionEpoch: number;
  readonly leaderRecoveryState: LeaderRecoveryState;
  /** Offset and time of the record that created the partition, and of its last change (ZooKeeper's czxid/ctime, mzxid/mtime). */
  readonly createdOffset: number;
  readonly createdTimeMs: number;
  readonly changedOffset: number;
  readonly changedTimeMs: number;
}

export interface TopicImage {
  readonly id: string;
  readonly name: string;
  /** Index = partition id. */
  readonly partitions: readonly PartitionRegistration[];
  readonly createdOffset: number;
  readonly createdTimeMs: number;
  /** Last change of the assignment (partitions added or replicas changed): the topic znode's mzxid/mtime. */
  readonly assignmentChangedOffset: number;
  readonly assignmentChangedTimeMs: number;
  /** How many times the assignment changed since creation: the topic znode's version. */
  readonly assignmentVersion: number;
}

export interface TopicsImage {
  byId(topicId: string): TopicImage | undefined;
  byName(name: string): TopicImage | undefined;
  topics(): IterableIterator<TopicImage>;
  readonly topicCount: number;
  readonly partitionCount: number;
  /**
   * Every topic name (frozen): the same array while no topic is created or removed, whatever else
   * changes (partition changes do not rebuild it). O(topics) to build once per name set.
   */
  names(): readonly string[];
  /**
   * The same object exactly while the name set is the same (as {@link names}), without building the
   * list: a key for caches of what depends on the names alone.
   */
  readonly namesKey: object;
  /** The newest topic's creation offset (0: no topics); O(1). */
  readonly newestCreatedOffset: number;
  /** Topics removed since the log began, and the offset of the last removal (0: none). */
  readonly removedCount: number;
  readonly lastRemovedOffset: number;
}

/** One resource's configs (name -> value), with the offset/time of its last change and change count. */
export interface ResourceConfigs {
  readonly values: ReadonlyMap<string, string>;
  readonly changedOffset: number;
  readonly changedTimeMs: number;
  readonly createdOffset: number;
  readonly createdTimeMs: number;
  readonly version: number;
}

/**
 * What remains of a resource whose values were all deleted while something owned it (a topic's
 * configs while the topic exists): its stamps, as if it had been one resource since `createdOffset`
 * whose `version` counts every write (emptying and re-creating included).
 */
export interface EmptiedConfigs {
  readonly createdOffset: number;
  readonly createdTimeMs: number;
  /** The last emptying. */
  readonly changedOffset: number;
  readonly changedTimeMs: number;
  readonly version: number;
}

/** Resources of one type that vanished without an owner to keep them, and the last such offset. */
export interface ConfigRemovals {
  readonly count: number;
  readonly lastOffset: number;
}

export interface ConfigsImage {
  get(type: ConfigResourceType, name: string): ResourceConfigs | undefined;
  resources(type: ConfigResourceType): IterableIterator<[string, ResourceConfigs]>;
  /** The stamps of an owned resource emptied at least once (kept until its owner goes). */
  emptied(type: ConfigResourceType, name: string): EmptiedConfigs | undefined;
  removals(type: ConfigResourceType): ConfigRemovals;
}

export interface CommittedOffset {
  readonly offset: number;
  readonly metadata: string;
  readonly commitTimestampMs: number;
  /** Raft index of the commit (ZooKeeper mzxid) and how many commits this partition saw (znode version). */
  readonly changedOffset: number;
  readonly createdOffset: number;
  readonly createdTimeMs: number;
  readonly version: number;
}

/**
 * A topic of a group that lost some (not all) of its partitions' offsets: its creation, which its
 * surviving commits no longer show, and the partitions removed since.
 */
export interface GroupTopicStamps {
  readonly createdOffset: number;
  readonly createdTimeMs: number;
  readonly removedPartitions: number;
  readonly lastRemovedOffset: number;
}

export interface GroupOffsets {
  readonly groupId: string;
  /** The first commit since the group last had no offsets. */
  readonly createdOffset: number;
  readonly createdTimeMs: number;
  /** Topics whose offsets were all deleted since the group's creation, and the last such offset. */
  readonly removedTopics: number;
  readonly topicsRemovedOffset: number;
  /** Stamps of a topic that lost part of its offsets (undefined when it never did). */
  topicStamps(topic: string): GroupTopicStamps | undefined;
  get(topic: string, partition: number): CommittedOffset | undefined;
  /**
   * A topic's commits by partition. Images share the map of a topic no commit touched, so the same
   * object means no change (what lets a reader of a large group look at changed topics only).
   */
  partitions(topic: string): ReadonlyMap<number, CommittedOffset> | undefined;
  /** Every topic with commits and its partitions' commits (maps as `partitions`). */
  topics(): IterableIterator<[string, ReadonlyMap<number, CommittedOffset>]>;
  /** Every committed offset, as [topic, partition, offset]. */
  entries(): IterableIterator<[string, number, CommittedOffset]>;
  readonly size: number;
}

export interface OffsetsImage {
  group(groupId: string): GroupOffsets | undefined;
  groups(): IterableIterator<GroupOffsets>;
  readonly groupCount: number;
  /** Groups that lost all their offsets since the log began, and the offset of the last one. */
  readonly removedGroups: number;
  readonly lastRemovedOffset: number;
}

export interface FeaturesImage {
  level(name: string): number | undefined;
  all(): ReadonlyMap<string, number>;
  /** The first batch that changed a level (0: none yet), the last one, and batches since the first. */
  readonly createdOffset: number;
  readonly changedOffset: number;
  readonly changedTimeMs: number;
  readonly version: number;
}

/**
 * The Raft terms the log has entries in, each with its first offset and that entry's time (a NoOp
 * entry keeps the previous batch's time): what every node replaying the log agrees on.
 */
export interface TermsImage {
  /** Terms with at least one entry. */
  readonly count: number;
  /** The term of the entry at `offset` (the first term for offsets before it; 0 if none). */
  epochAt(offset: number): number;
  /** The latest term's first offset and time (0 before any entry). */
  readonly startOffset: number;
  readonly startTimeMs: number;
}

/** A live ZooKeeper session of the ZooKeeper-compatible view (see ZkSessionRecord). */
export interface ZkSession {
  /** 16 lower-case hex digits. */
  readonly id: string;
  /** 32 hex digits. */
  readonly password: string;
  readonly timeoutMs: number;
  readonly ownerId: number;
}

export interface ZkSessionsImage {
  get(sessionId: string): ZkSession | undefined;
  sessions(): IterableIterator<ZkSession>;
  readonly count: number;
}

/** A ZooKeeper migration's state (the latest MigrationStateRecord) and when it was written. */
export interface MigrationState extends Omit<MigrationStateRecord, 'type' | 'version'> {
  /** The offset and time of the batch that wrote this state. */
  readonly changedOffset: number;
  readonly changedTimeMs: number;
}

export interface MetadataImageView {
  readonly provenance: Provenance;
  readonly terms: TermsImage;
  readonly features: FeaturesImage;
  readonly cluster: ClusterImage;
  readonly topics: TopicsImage;
  readonly configs: ConfigsImage;
  readonly offsets: OffsetsImage;
  readonly zkSessions: ZkSessionsImage;
  /** The ZooKeeper migration's state; null (or absent in hand-built views) when none ever ran. */
  readonly migration?: MigrationState | null;
}

/** Change events derived from a delta, for listeners (broker reactions, watches, the ZooKeeper view). */
export type MetadataChange =
  | { readonly kind: 'cluster-id'; readonly clusterId: string }
  | {
      readonly kind: 'migration-state';
      readonly phase: 'in-progress' | 'migrated';
      readonly batchesDone: number;
      readonly batchesTotal: number;
    }
  | { readonly kind: 'feature-changed'; readonly name: string; readonly level: number }
  | { readonly kind: 'broker-registered'; readonly brokerId: number; readonly epoch: number }
  | { readonly kind: 'broker-fenced'; readonly brokerId: number }
  | { readonly kind: 'broker-unfenced'; readonly brokerId: number }
  | { readonly kind: 'broker-controlled-shutdown'; readonly brokerId: number }
  | { readonly kind: 'broker-unregistered'; readonly brokerId: number }
  | {
      readonly kind: 'topic-created';
      readonly topicId: string;
      readonly name: string;
      readonly partitions: number;
    }
  | { readonly kind: 'topic-deleted'; readonly topicId: string; readonly name: string }
  | {
      readonly kind: 'partitions-added';
      readonly topicId: string;
      readonly name: string;
      readonly from: number;
      readonly to: number;
    }
  | {
      readonly kind: 'partition-changed';
      readonly topicId: string;
      readonly name: string;
      readonly partition: number;
      readonly leader: number;
      readonly previousLeader: number;
      readonly isr: readonly number[];
      readonly leaderEpoch: number;
      readonly partitionEpoch: number;
    }
  | {
      readonly kind: 'config-changed';
      readonly resourceType: ConfigResourceType;
      readonly resourceName: string;
      readonly name: string;
      readonly value: string | null;
    }
  | {
      readonly kind: 'offsets-committed';
      readonly groupId: string;
      /** Partitions with a new commit. */
      readonly partitions: number;
      /** Those partitions, by topic. */
      readonly topics: ReadonlyMap<string, readonly number[]>;
    }
  | {
      readonly kind: 'offsets-deleted';
      readonly groupId: string;
      /** Partitions whose commit went away (or was re-created), by topic. */
      readonly topics: ReadonlyMap<string, readonly number[]>;
    }
  | { readonly kind: 'zk-session'; readonly sessionId: string; readonly ownerId: number }
  | { readonly kind: 'zk-session-ended'; readonly sessionId: string; readonly reason: 'expired' | 'closed' };
