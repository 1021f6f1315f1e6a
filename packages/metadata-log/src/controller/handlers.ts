/**
 * The controller's handlers: pure functions from (image, request) to records plus a response. None of
 * them changes state; the records do, once committed and replayed (the same code on every node).
 */
import { randomBytes } from 'node:crypto';
import type { MetadataImageView, TopicImage } from '../image/types.js';
import {
  type ConfigRecord,
  ConfigResourceType,
  type Endpoint,
  type MetadataRecord,
  type OffsetCommitRecord,
  RecordType,
} from '../records.js';
import {
  assignNewPartitions,
  assignNewTopic,
  type ManualPartitionAssignment,
  newPartitionRecords,
  type RandomSource,
  type TopicDefaults,
  usablePredicate,
} from './assignment.js';
import { validateConfig, validateConfigResource, validateTopicConfigs } from './configs.js';
import { ControllerError, toApiError } from './errors.js';
import {
  type AlterPartitionSpec,
  alterPartitionChange,
  controlledShutdownChanges,
  type ElectionScope,
  electLeadersChanges,
  fenceBrokerChanges,
  unfenceBrokerChanges,
  unregisterBrokerChanges,
} from './partition-change.js';
import type { ControllerResult } from './quorum-controller.js';
import { checkNewTopicName, collisionError, topicNames, validateTopicName } from './topic-names.js';

/** A per-item outcome, as Kafka's responses carry: errorCode 0 on success. */
export interface ItemError {
  readonly errorCode: number;
  readonly errorMessage: string | null;
  /** Our stable name of the error (TOPIC_ALREADY_EXISTS, ...), or null on success. */
  readonly error: string | null;
}

export const NO_ERROR: ItemError = { errorCode: 0, errorMessage: null, error: null };

export function itemError(err: unknown): ItemError {
  const api = toApiError(err);
  return {
    errorCode: api.errorCode,
    errorMessage: api.errorMessage,
    error: err instanceof ControllerError ? err.code : 'UNKNOWN_SERVER_ERROR',
  };
}

/** A new Kafka-style Uuid: 16 random bytes as 22 characters of base64url. */
export function newUuid(random?: RandomSource): string {
  const bytes = random ? Uint8Array.from({ length: 16 }, () => random.int(256)) : randomBytes(16);
  return Buffer.from(bytes).toString('base64url');
}

// ------------------------------------------------------------------------------------------------
// Cluster bootstrap and features

export function bootstrapRecords(clusterId: string, features: ReadonlyMap<string, number>): MetadataRecord[] {
  const records: MetadataRecord[] = [{ type: RecordType.Cluster, version: 0, clusterId }];
  for (const [name, level] of features)
    records.push({ type: RecordType.FeatureLevel, version: 0, name, level });
  return records;
}

// ------------------------------------------------------------------------------------------------
// Brokers

export interface RegisterBrokerRequest {
  readonly brokerId: number;
  readonly incarnationId: string;
  readonly endpoints: readonly Endpoint[];
  readonly rack: string | null;
}

export function registerBroker(
  image: MetadataImageView,
  req: RegisterBrokerRequest,
  hasValidSession: (brokerId: number) => boolean,
): ControllerResult<{ brokerEpoch: number }> {
  if (req.endpoints.length === 0)
    throw new ControllerError('INVALID_REQUEST', 'a broker must register at least one endpoint');
  const existing = image.cluster.broker(req.brokerId);
  if (
    existing !== undefined &&
    existing.incarnationId !== req.incarnationId &&
    hasValidSession(req.brokerId)
  ) {
    throw new ControllerError(
      'DUPLICATE_BROKER_REGISTRATION',
      `Another broker is registered with that broker id (${req.brokerId}, incarnation ${existing.incarnationId}).`,
    );
  }
  if (!Number.isInteger(req.brokerId) || req.brokerId < 0) {
    throw new ControllerError('INVALID_REQUEST', `Invalid broker id ${req.brokerId}`);
  }
  return {
    records: [
      {
        type: RecordType.RegisterBroker,
        version: 0,
        brokerId: req.brokerId,
        incarnationId: req.incarnationId,
        endpoints: req.endpoints,
        rack: req.rack,
        fenced: true,
        inControlledShutdown: false,
      },
    ],
    // The epoch is the registration's offset, known only once it lands.
    response: (_committed, offset) => ({ brokerEpoch: offset }),
  };
}

/** Fencing: the broker leaves every ISR and leadership moves, then the registration says fenced. */
export function fenceBroker(image: MetadataImageView, brokerId: number): MetadataRecord[] {
  const reg = image.cluster.broker(brokerId);
  if (reg === undefined || reg.fenced) return [];
  return [
    ...fenceBrokerChanges(image, brokerId),
    {
      type: RecordType.BrokerRegistrationChange,
      version: 0,
      brokerId,
      brokerEpoch: reg.epoch,
      fenced: 1,
      inControlledShutdown: 0,
    },
  ];
}

export function unfenceBroker(image: MetadataImageView, brokerId: number): MetadataRecord[] {
  const reg = image.cluster.broker(brokerId);
  if (reg === undefined || !reg.fenced) return [];
  return [
    {
      type: RecordType.BrokerRegistrationChange,
      version: 0,
      brokerId,
      brokerEpoch: reg.epoch,
      fenced: -1,
      inControlledShutdown: 0,
    },
    ...unfenceBrokerChanges(image, brokerId),
  ];
}

export function beginControlledShutdown(image: MetadataImageView, brokerId: number): MetadataRecord[] {
  const reg = image.cluster.broker(brokerId);
  if (reg === undefined) return [];
  const records: MetadataRecord[] = [];
  if (!reg.inControlledShutdown) {
    records.push({
      type: RecordType.BrokerRegistrationChange,
      version: 0,
      brokerId,
      brokerEpoch: reg.epoch,
      fenced: 0,
      inControlledShutdown: 1,
    });
  }
  records.push(...controlledShutdownChanges(image, brokerId));
  return records;
}

export function unregisterBroker(image: MetadataImageView, brokerId: number): ControllerResult<void> {
  const reg = image.cluster.broker(brokerId);
  if (reg === undefined) {
    throw new ControllerError(
      'BROKER_ID_NOT_REGISTERED',
      `Broker ID ${brokerId} is not currently registered`,
    );
  }
  return {
    records: [
      ...unregisterBrokerChanges(image, brokerId),
      { type: RecordType.UnregisterBroker, version: 0, brokerId, brokerEpoch: reg.epoch },
    ],
    response: undefined,
  };
}

/** Whether the broker leads any partition (checked only when a shutdown decision depends on it). */
export function leadsAnyPartition(image: MetadataImageView, brokerId: number): boolean {
  for (const topic of image.topics.topics()) {
    for (const p of topic.partitions) if (p.leader === brokerId) return true;
  }
  return false;
}

// ------------------------------------------------------------------------------------------------
// Topics

export interface CreatableTopic {
  readonly name: string;
  /** -1: the cluster default (`num.partitions`). */
  readonly numPartitions: number;
  /** -1: the cluster default (`default.replication.factor`). */
  readonly replicationFactor: number;
  readonly assignments?: readonly ManualPartitionAssignment[];
  readonly configs?: Readonly<Record<string, string>>;
}

export interface CreateTopicsResult extends ItemError {
  readonly name: string;
  readonly topicId: string | null;
  readonly numPartitions: number;
  readonly replicationFactor: number;
}

export function createTopics(
  image: MetadataImageView,
  topics: readonly CreatableTopic[],
  opts: { validateOnly: boolean; defaults: TopicDefaults; random: RandomSource },
): ControllerResult<CreateTopicsResult[]> {
  const records: MetadataRecord[] = [];
  const results: CreateTopicsResult[] = [];
  const seen = new Map<string, number>();
  for (const t of topics) seen.set(t.name, (seen.get(t.name) ?? 0) + 1);
  const created = new Set<string>();
  // The image's topics plus those created earlier in this request, by lookup: a name's check must not
  // cost a pass over every topic (a cluster of 10,000 topics creates them one request at a time).
  const existing = {
    has: (name: string) => created.has(name) || image.topics.byName(name) !== undefined,
    names: function* () {
      yield* created;
      yield* topicNames(image.topics);
    },
  };
  for (const t of topics) {
    const fail = (err: unknown) =>
      results.push({
        name: t.name,
        topicId: null,
        numPartitions: -1,
        replicationFactor: -1,
        ...itemError(err),
      });
    try {
      if ((seen.get(t.name) ?? 0) > 1)
        throw new ControllerError('INVALID_REQUEST', `Found multiple entries for topic ${t.name}.`);
      validateTopicName(t.name);
      if (image.topics.byName(t.name) !== undefined) {
        throw new ControllerError('TOPIC_ALREADY_EXISTS', `Topic '${t.name}' already exists.`);
      }
      const check = checkNewTopicName(t.name, existing);
      if (check.collidesWith !== undefined) throw collisionError(t.name, check.collidesWith);
      if (t.configs !== undefined) validateTopicConfigs(new Map(Object.entries(t.configs)));
      const assignment = assignNewTopic(image.cluster, t, opts.defaults, opts.random);
      const topicId = newUuid(opts.random);
      const partitions = newPartitionRecords(topicId, assignment, usablePredicate(image.cluster));
      created.add(t.name);
      results.push({
        name: t.name,
        topicId,
        numPartitions: assignment.length,
        replicationFactor: assignment[0]?.length ?? 0,
        ...NO_ERROR,
      });
      if (opts.validateOnly) continue;
      records.push({ type: RecordType.Topic, version: 0, name: t.name, topicId });
      for (const [name, value] of Object.entries(t.configs ?? {})) {
        records.push(configRecord(ConfigResourceType.Topic, t.name, name, value));
      }
      records.push(...partitions);
    } catch (err) {
      fail(err);
    }
  }
  return { records, response: results };
}

export interface DeleteTopicsResult extends ItemError {
  readonly name: string | null;
  readonly topicId: string | null;
}

/** Deletes topics named or identified; each unknown one gets UNKNOWN_TOPIC_OR_PARTITION. */
export function deleteTopics(
  image: MetadataImageView,
  req: { names?: readonly string[]; topicIds?: readonly string[] },
): ControllerResult<DeleteTopicsResult[]> {
  const records: MetadataRecord[] = [];
  const results: DeleteTopicsResult[] = [];
  const removed = new Set<string>();
  const remove = (topic: TopicImage | undefined, name: string | null, id: string | null) => {
    if (topic === undefined) {
      results.push({
        name,
        topicId: id,
        ...itemError(
          new ControllerError('UNKNOWN_TOPIC_OR_PARTITION', `Topic ${name ?? id} does not exist.`),
        ),
      });
      return;
    }
    results.push({ name: topic.name, topicId: topic.id, ...NO_ERROR });
    if (removed.has(topic.id)) return;
    removed.add(topic.id);
    records.push({ type: RecordType.RemoveTopic, version: 0, topicId: topic.id });
  };
  for (const name of req.names ?? []) remove(image.topics.byName(name), name, null);
  for (const id of req.topicIds ?? []) remove(image.topics.byId(id), null, id);
  return { records, response: results };
}

export interface CreatePartitionsTopic {
  readonly name: string;
  /** The new total partition count. */
  readonly count: number;
  readonly assignments?: readonly (readonly number[])[];
}

export function createPartitions(
  image: MetadataImageView,
  topics: readonly CreatePartitionsTopic[],
  validateOnly: boolean,
): ControllerResult<({ name: string } & ItemError)[]> {
  const records: MetadataRecord[] = [];
  const results: ({ name: string } & ItemError)[] = [];
  for (const t of topics) {
    try {
      const topic = image.topics.byName(t.name);
      if (topic === undefined)
        throw new ControllerError('UNKNOWN_TOPIC_OR_PARTITION', `Topic ${t.name} does not exist.`);
      const assignment = assignNewPartitions(image.cluster, topic, t.count, t.assignments);
      const added = newPartitionRecords(
        topic.id,
        assignment,
        usablePredicate(image.cluster),
        topic.partitions.length,
      );
      if (!validateOnly) records.push(...added);
      results.push({ name: t.name, ...NO_ERROR });
    } catch (err) {
      results.push({ name: t.name, ...itemError(err) });
    }
  }
  return { records, response: results };
}

// ------------------------------------------------------------------------------------------------
// Partition leadership

export interface AlterPartitionRequest extends Omit<AlterPartitionSpec, 'uncleanAllowed'> {
  readonly brokerEpoch: number;
}

export interface AlterPartitionResult extends ItemError {
  readonly leader: number;
  readonly leaderEpoch: number;
  readonly isr: readonly number[];
  readonly partitionEpoch: number;
}

/** An ISR change asked for by a partition leader (Kafka's AlterPartition). */
export function alterPartition(
  image: MetadataImageView,
  req: AlterPartitionRequest,
): ControllerResult<AlterPartitionResult> {
  const reg = image.cluster.broker(req.brokerId);
  if (reg === undefined || reg.epoch !== req.brokerEpoch) {
    throw new ControllerError(
      'STALE_BROKER_EPOCH',
      `broker ${req.brokerId} epoch ${req.brokerEpoch} is not current`,
    );
  }
  const topic = image.topics.byId(req.topicId);
  const partition = topic?.partitions[req.partitionId];
  if (topic === undefined || partition === undefined) {
    throw new ControllerError(
      'UNKNOWN_TOPIC_OR_PARTITION',
      `Partition ${req.topicId}-${req.partitionId} does not exist.`,
    );
  }
  const outcome = alterPartitionChange(image.cluster, partition, req);
  return {
    records: outcome.record === undefined ? [] : [outcome.record],
    response: (committed) => {
      const now = committed.topics.byId(req.topicId)?.partitions[req.partitionId];
      const base = now ?? partition;
      const state = {
        leader: base.leader,
        leaderEpoch: base.leaderEpoch,
        isr: base.isr,
        partitionEpoch: base.partitionEpoch,
      };
      return outcome.newLeaderElected
        ? { ...state, ...itemError(new ControllerError('NEW_LEADER_ELECTED', 'a new leader was elected')) }
        : { ...state, ...NO_ERROR };
    },
  };
}

/** Most partitions in one alterPartitions request. */
export const MAX_ALTER_PARTITIONS = 10_000;

export interface AlterPartitionsRequest {
  readonly brokerId: number;
  readonly brokerEpoch: number;
  readonly partitions: readonly Omit<AlterPartitionRequest, 'brokerId' | 'brokerEpoch'>[];
}

export interface AlterPartitionsItemResult extends AlterPartitionResult {
  readonly topicId: string;
  readonly partitionId: number;
}

/**
 * Many partitions' ISR changes from one leader in one operation, as Kafka's AlterPartition request
 * carries them: a broker back from a restart is re-added to the ISR of every partition it follows
 * (hundreds of thousands in a large cluster), which one Raft entry per partition would take minutes to
 * write. The broker epoch is checked once (refusing the whole request); each partition is decided on
 * its own and answers with its own error. Non-atomic: each change is valid alone.
 */
export function alterPartitions(
  image: MetadataImageView,
  req: AlterPartitionsRequest,
): ControllerResult<{ partitions: AlterPartitionsItemResult[] }> {
  const reg = image.cluster.broker(req.brokerId);
  if (reg === undefined || reg.epoch !== req.brokerEpoch) {
    throw new ControllerError(
      'STALE_BROKER_EPOCH',
      `broker ${req.brokerId} epoch ${req.brokerEpoch} is not current`,
    );
  }
  if (!Array.isArray(req.partitions) || req.partitions.length > MAX_ALTER_PARTITIONS) {
    throw new ControllerError(
      'INVALID_REQUEST',
      `partitions must be a list of at most ${MAX_ALTER_PARTITIONS} ISR changes`,
    );
  }
  const records: MetadataRecord[] = [];
  const answers: ((committed: MetadataImageView) => AlterPartitionResult)[] = [];
  const seen = new Set<string>();
  for (const item of req.partitions) {
    try {
      const key = `${item.topicId}:${item.partitionId}`;
      // Both changes would be decided on the same image; the second could undo the first.
      if (seen.has(key))
        throw new ControllerError('INVALID_REQUEST', `partition ${key} appears twice in the request`);
      seen.add(key);
      const one = alterPartition(image, { ...item, brokerId: req.brokerId, brokerEpoch: req.brokerEpoch });
      records.push(...one.records);
      const response = one.response;
      answers.push((committed) =>
        typeof response === 'function' ? response(committed, committed.provenance.offset) : response,
      );
    } catch (err) {
      const failed = { leader: -1, leaderEpoch: -1, isr: [], partitionEpoch: -1, ...itemError(err) };
      answers.push(() => failed);
    }
  }
  return {
    records,
    response: (committed) => ({
      partitions: answers.map((answer, i) => ({
        topicId: req.partitions[i]!.topicId,
        partitionId: req.partitions[i]!.partitionId,
        ...answer(committed),
      })),
    }),
    atomic: false,
  };
}

export interface ElectLeadersResult extends ItemError {
  readonly topic: string;
  readonly partition: number;
}

export function electLeaders(
  image: MetadataImageView,
  type: 'PREFERRED' | 'UNCLEAN',
  scope?: readonly ElectionScope[],
): ControllerResult<ElectLeadersResult[]> {
  const changes = electLeadersChanges(image, type, scope);
  return {
    records: changes.records,
    response: changes.results.map((r) => ({
      topic: r.topic,
      partition: r.partition,
      ...(r.error === undefined ? NO_ERROR : itemError(r.error)),
    })),
  };
}

// ------------------------------------------------------------------------------------------------
// Configs

export interface ConfigAlteration {
  readonly name: string;
  /** `set` a value, or `delete` back to the default. */
  readonly op: 'set' | 'delete';
  readonly value?: string;
}

export interface AlterConfigsResource {
  readonly resourceType: ConfigResourceType;
  /** Topic name, broker id, or "" for the cluster-wide broker default. */
  readonly resourceName: string;
  readonly alterations: readonly ConfigAlteration[];
}

function configRecord(
  resourceType: ConfigResourceType,
  resourceName: string,
  name: string,
  value: string | null,
): ConfigRecord {
  return { type: RecordType.Config, version: 0, resourceType, resourceName, name, value };
}

/** Kafka's IncrementalAlterConfigs (set / delete) for topics, brokers and the cluster default. */
export function alterConfigs(
  image: MetadataImageView,
  resources: readonly AlterConfigsResource[],
  validateOnly: boolean,
): ControllerResult<(Omit<AlterConfigsResource, 'alterations'> & ItemError)[]> {
  const records: MetadataRecord[] = [];
  const results: (Omit<AlterConfigsResource, 'alterations'> & ItemError)[] = [];
  for (const r of resources) {
    const id = { resourceType: r.resourceType, resourceName: r.resourceName };
    try {
      validateConfigResource(r.resourceType, r.resourceName);
      if (r.resourceType === ConfigResourceType.Topic && image.topics.byName(r.resourceName) === undefined) {
        throw new ControllerError('UNKNOWN_TOPIC_OR_PARTITION', `Topic ${r.resourceName} does not exist.`);
      }
      const pending: ConfigRecord[] = [];
      for (const a of r.alterations) {
        const value = a.op === 'set' ? (a.value ?? '') : null;
        validateConfig(r.resourceType, a.name, value);
        pending.push(configRecord(r.resourceType, r.resourceName, a.name, value));
      }
      if (r.resourceType === ConfigResourceType.Topic) {
        // Cross-key rules (e.g. min.compaction.lag.ms <= max.compaction.lag.ms) on the resulting set.
        const resulting = new Map(image.configs.get(r.resourceType, r.resourceName)?.values ?? []);
        for (const p of pending) p.value === null ? resulting.delete(p.name) : resulting.set(p.name, p.value);
        validateTopicConfigs(resulting);
      }
      if (!validateOnly) records.push(...pending);
      results.push({ ...id, ...NO_ERROR });
    } catch (err) {
      results.push({ ...id, ...itemError(err) });
    }
  }
  return { records, response: results };
}

// ------------------------------------------------------------------------------------------------
// Offsets

export interface OffsetCommitEntry {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly metadata?: string;
}

export interface OffsetCommitResult extends ItemError {
  readonly topic: string;
  readonly partition: number;
}

/** Kafka's offset commit: every valid partition in one batch; unknown ones get UNKNOWN_TOPIC_OR_PARTITION. */
export function commitOffsets(
  image: MetadataImageView,
  groupId: string,
  entries: readonly OffsetCommitEntry[],
  nowMs: number,
  maxMetadataBytes = 4096,
): ControllerResult<OffsetCommitResult[]> {
  if (groupId === '') throw new ControllerError('INVALID_GROUP_ID', 'the group id must not be empty');
  const records: OffsetCommitRecord[] = [];
  const results: OffsetCommitResult[] = [];
  for (const e of entries) {
    const at = { topic: e.topic, partition: e.partition };
    const topic = image.topics.byName(e.topic);
    if (
      topic === undefined ||
      !Number.isInteger(e.partition) ||
      e.partition < 0 ||
      e.partition >= topic.partitions.length
    ) {
      results.push({
        ...at,
        ...itemError(
          new ControllerError('UNKNOWN_TOPIC_OR_PARTITION', `${e.topic}-${e.partition} does not exist.`),
        ),
      });
      continue;
    }
    if (!Number.isSafeInteger(e.offset) || e.offset < -1) {
      results.push({
        ...at,
        ...itemError(new ControllerError('INVALID_REQUEST', `invalid offset ${e.offset}`)),
      });
      continue;
    }
    const metadata = e.metadata ?? '';
    // A UTF-8 character takes at most 3 bytes per UTF-16 unit: short strings need no count.
    if (metadata.length * 3 > maxMetadataBytes && Buffer.byteLength(metadata) > maxMetadataBytes) {
      results.push({
        ...at,
        ...itemError(
          new ControllerError('OFFSET_METADATA_TOO_LARGE', `metadata over ${maxMetadataBytes} bytes`),
        ),
      });
      continue;
    }
    records.push({
      type: RecordType.OffsetCommit,
      version: 0,
      groupId,
      topic: e.topic,
      partition: e.partition,
      offset: e.offset,
      metadata,
      commitTimestampMs: nowMs,
    });
    // The hot path (a commit per partition): a literal, not spreads.
    results.push({ topic: e.topic, partition: e.partition, errorCode: 0, errorMessage: null, error: null });
  }
  return { records, response: results };
}

/** Deletes a group's offsets (all, one topic's, or one partition's). */
export function deleteOffsets(
  image: MetadataImageView,
  groupId: string,
  topic?: string,
  partition?: number,
): ControllerResult<void> {
  const group = image.offsets.group(groupId);
  if (group === undefined)
    throw new ControllerError('GROUP_ID_NOT_FOUND', `Group ${groupId} has no committed offsets.`);
  return {
    records: [
      {
        type: RecordType.OffsetDelete,
        version: 0,
        groupId,
        ...(topic === undefined ? {} : { topic }),
        ...(partition === undefined ? {} : { partition }),
      },
    ],
    response: undefined,
  };
}

export function noOp(): MetadataRecord[] {
  return [{ type: RecordType.NoOp, version: 0 }];
}

/** Configs of a resource as a plain object (for responses). */
export function configsOf(
  image: MetadataImageView,
  type: ConfigResourceType,
  name: string,
): Record<string, string> {
  return Object.fromEntries(image.configs.get(type, name)?.values ?? []);
}
