/**
 * Reads of the metadata image. Any node serves them from its local image (the committed state as of
 * `image.provenance.offset`); nothing here goes through the controller or the log.
 */
import { ControllerError } from './controller/errors.js';
import type { ItemError } from './controller/handlers.js';
import { itemError, NO_ERROR } from './controller/handlers.js';
import type { MetadataImageView } from './image/types.js';
import type { ConfigResourceType, Endpoint } from './records.js';

export interface BrokerDescription {
  readonly id: number;
  readonly epoch: number;
  readonly endpoints: readonly Endpoint[];
  readonly rack: string | null;
  readonly fenced: boolean;
  readonly inControlledShutdown: boolean;
}

export interface ClusterDescription {
  readonly clusterId: string;
  /** The active controller (the Raft leader), -1 when unknown. */
  readonly controllerId: number;
  /** Where the active controller serves requests: its RegisterController endpoint, else its broker's. */
  readonly controllerEndpoint: Endpoint | null;
  readonly brokers: readonly BrokerDescription[];
  readonly metadataOffset: number;
}

export function describeCluster(image: MetadataImageView, controllerId: number): ClusterDescription {
  const brokers = [...image.cluster.brokers()]
    .map((b) => ({
      id: b.id,
      epoch: b.epoch,
      endpoints: b.endpoints,
      rack: b.rack,
      fenced: b.fenced,
      inControlledShutdown: b.inControlledShutdown,
    }))
    .sort((a, b) => a.id - b.id);
  const endpoint =
    controllerId > 0
      ? (image.cluster.controller(controllerId)?.endpoints[0] ??
        image.cluster.broker(controllerId)?.endpoints[0])
      : undefined;
  return {
    clusterId: image.cluster.clusterId,
    controllerId: controllerId > 0 ? controllerId : -1,
    controllerEndpoint: endpoint ?? null,
    brokers,
    metadataOffset: image.provenance.offset,
  };
}

export interface TopicListing {
  readonly name: string;
  readonly topicId: string;
  readonly partitions: number;
}

export function listTopics(image: MetadataImageView): TopicListing[] {
  return [...image.topics.topics()]
    .map((t) => ({ name: t.name, topicId: t.id, partitions: t.partitions.length }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export interface PartitionDescription {
  readonly partition: number;
  readonly leader: number;
  readonly leaderEpoch: number;
  readonly partitionEpoch: number;
  readonly replicas: readonly number[];
  readonly isr: readonly number[];
}

export interface TopicDescription extends ItemError {
  readonly name: string;
  readonly topicId: string | null;
  readonly partitions: readonly PartitionDescription[];
}

/** Describes the named topics (all when `names` is absent); unknown names get UNKNOWN_TOPIC_OR_PARTITION. */
export function describeTopics(image: MetadataImageView, names?: readonly string[]): TopicDescription[] {
  const wanted = names ?? listTopics(image).map((t) => t.name);
  return wanted.map((name) => {
    const t = image.topics.byName(name);
    if (t === undefined) {
      return {
        name,
        topicId: null,
        partitions: [],
        ...itemError(new ControllerError('UNKNOWN_TOPIC_OR_PARTITION', `Topic ${name} does not exist.`)),
      };
    }
    return {
      name,
      topicId: t.id,
      partitions: t.partitions.map((p, i) => ({
        partition: i,
        leader: p.leader,
        leaderEpoch: p.leaderEpoch,
        partitionEpoch: p.partitionEpoch,
        replicas: p.replicas,
        isr: p.isr,
      })),
      ...NO_ERROR,
    };
  });
}

/** The explicitly set configs of a resource (name -> value). */
export function describeConfigs(
  image: MetadataImageView,
  type: ConfigResourceType,
  name: string,
): Record<string, string> {
  return Object.fromEntries(image.configs.get(type, name)?.values ?? []);
}

export interface FetchedOffset {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly metadata: string;
  readonly commitTimestampMs: number;
}

/** A group's committed offsets, optionally only of some topics; an unknown group has none. */
export function fetchOffsets(
  image: MetadataImageView,
  groupId: string,
  topics?: readonly string[],
): FetchedOffset[] {
  const group = image.offsets.group(groupId);
  if (group === undefined) return [];
  const only = topics === undefined ? undefined : new Set(topics);
  const out: FetchedOffset[] = [];
  for (const [topic, partition, o] of group.entries()) {
    if (only !== undefined && !only.has(topic)) continue;
    out.push({
      topic,
      partition,
      offset: o.offset,
      metadata: o.metadata,
      commitTimestampMs: o.commitTimestampMs,
    });
  }
  return out.sort((a, b) => (a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1));
}

export function listGroups(image: MetadataImageView): { groupId: string; partitions: number }[] {
  return [...image.offsets.groups()]
    .map((g) => ({ groupId: g.groupId, partitions: g.size }))
    .sort((a, b) => (a.groupId < b.groupId ? -1 : a.groupId > b.groupId ? 1 : 0));
}

/** The Raft status a quorum description is made from (RaftNode.status() satisfies it). */
export interface QuorumStatusSource {
  readonly nodeId: number;
  readonly role: string;
  readonly term: number;
  readonly leaderId: number;
  readonly commitIndex: number;
  readonly lastIndex: number;
  readonly voters: readonly { readonly id: number; readonly address: string }[];
  readonly replicas?: readonly {
    readonly id: number;
    readonly voter: boolean;
    readonly logEndOffset: number;
    readonly lastContactMsAgo: number;
    readonly lastCaughtUpMsAgo: number;
  }[];
}

export interface ReplicaDescription {
  readonly nodeId: number;
  readonly logEndOffset: number;
  readonly lag: number;
  /** Epoch ms of the last fetch (here: contact), -1 when unknown or for the leader itself. */
  readonly lastFetchTimestamp: number;
  readonly lastCaughtUpTimestamp: number;
  readonly status: 'Leader' | 'Follower' | 'Observer';
}

/** The fields of `kafka-metadata-quorum describe --status` and `--replication`. */
export interface QuorumDescription {
  readonly clusterId: string;
  readonly leaderId: number;
  readonly leaderEpoch: number;
  readonly highWatermark: number;
  readonly maxFollowerLag: number;
  readonly maxFollowerLagTimeMs: number;
  readonly currentVoters: readonly { readonly id: number; readonly endpoints: readonly string[] }[];
  readonly currentObservers: readonly { readonly id: number }[];
  readonly replicas: readonly ReplicaDescription[];
}

/**
 * Builds the quorum description from the leader's Raft status (only the leader knows its replicas'
 * progress; a non-leader is refused with NOT_CONTROLLER naming the leader). Log end offsets are
 * exclusive (last index + 1), as Kafka reports them.
 */
export function describeQuorum(
  status: QuorumStatusSource,
  clusterId: string,
  nowMs: number,
): QuorumDescription {
  if (status.role !== 'leader' || status.replicas === undefined) {
    throw new ControllerError('NOT_CONTROLLER', 'the quorum is described by its leader', {
      leaderId: status.leaderId,
    });
  }
  const leaderEnd = status.lastIndex + 1;
  const replicas: ReplicaDescription[] = status.replicas.map((r) => {
    const self = r.id === status.nodeId;
    return {
      nodeId: r.id,
      logEndOffset: self ? leaderEnd : r.logEndOffset,
      lag: self ? 0 : leaderEnd - r.logEndOffset,
      lastFetchTimestamp: self ? -1 : nowMs - r.lastContactMsAgo,
      lastCaughtUpTimestamp: self ? nowMs : nowMs - r.lastCaughtUpMsAgo,
      status: self ? 'Leader' : r.voter ? 'Follower' : 'Observer',
    };
  });
  const voters = replicas.filter((r) => r.status !== 'Observer');
  const laggiest = voters.reduce<ReplicaDescription | undefined>(
    (worst, r) => (worst === undefined || r.logEndOffset < worst.logEndOffset ? r : worst),
    undefined,
  );
  const leader = replicas.find((r) => r.status === 'Leader');
  return {
    clusterId,
    leaderId: status.leaderId,
    leaderEpoch: status.term,
    highWatermark: status.commitIndex + 1,
    maxFollowerLag: laggiest === undefined ? 0 : leaderEnd - laggiest.logEndOffset,
    maxFollowerLagTimeMs:
      laggiest === undefined || laggiest.status === 'Leader' || leader === undefined
        ? 0
        : leader.lastCaughtUpTimestamp - laggiest.lastCaughtUpTimestamp,
    currentVoters: status.voters.map((v) => ({ id: v.id, endpoints: [`CONTROLLER://${v.address}`] })),
    currentObservers: replicas.filter((r) => r.status === 'Observer').map((r) => ({ id: r.nodeId })),
    replicas,
  };
}
