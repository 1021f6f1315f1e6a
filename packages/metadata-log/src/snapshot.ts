/**
 * Metadata snapshots: a {@link MetadataImage} as a byte stream of framed record batches (KIP-630's
 * header / records / footer layout), and back.
 *
 * Stream layout (every frame: kind u8, payload length u32 big-endian, payload):
 *   1. HEADER frame (msgpack map): `magic`, `format`, provenance (`offset`, `epoch`, `timestampMs`) and
 *      counts. The header frame's layout is fixed across formats, so a reader can always name the
 *      format it refuses.
 *   2. RECORDS frames (msgpack array of records): Cluster, FeatureLevel, RegisterBroker, Topic followed
 *      by its Partitions (in id order), Config, OffsetCommit.
 *   3. FOOTER frame (msgpack map): `records` (how many records the RECORDS frames held) and `crc32`
 *      over every byte before the footer frame. Nothing may follow it.
 *
 * Snapshot-only record fields (format 1). A replayed record takes its stamps from the offset it is
 * replayed at; a snapshot must restore the original ones, so records carry them as extra fields:
 *   RegisterBroker: brokerEpoch, registeredTimeMs
 *   Topic:          createdOffset, createdTimeMs, assignmentChangedOffset, assignmentChangedTimeMs, assignmentVersion
 *   Partition:      createdOffset, createdTimeMs, changedOffset, changedTimeMs (epochs are record fields)
 *   Config:         createdOffset, createdTimeMs, changedOffset, changedTimeMs, resourceVersion (of the resource)
 *   OffsetCommit:   changedOffset, createdOffset, createdTimeMs, commitVersion
 *
 * Format 2 adds what replay remembers beyond current values (the stamps ZooKeeper-style stats derive
 * from, so a node started from a snapshot shows the same stats as one that replayed the whole log):
 *   header `stamps`: the Raft terms (first offset, term, time of each), the cluster id's stamps and
 *     unfenced-broker removals, the features' stamps, topic removals, config removals per resource
 *     type, group removals;
 *   Config with `value` null (name ""): an emptied owned resource's stamps (the fields above);
 *   OffsetCommit, on a group's first record: groupCreatedOffset, groupCreatedTimeMs, removedTopics,
 *     topicsRemovedOffset; on the first record of a topic that lost offsets: topicCreatedOffset,
 *     topicCreatedTimeMs, removedPartitions, partitionsRemovedOffset.
 * It also adds the MigrationState record (last, when a migration ran), with changedOffset and
 * changedTimeMs.
 * A format-1 snapshot loads with those stamps as its records show them (no removals, the snapshot's
 * term from its offset). A new field or record kind means a new `format`; readers refuse formats
 * newer than theirs.
 */
import { crc32 } from 'node:zlib';
import { Packr, Unpackr } from 'msgpackr';
import { brokerRegistration, ClusterImageImpl, type ClusterStamps } from './image/cluster.js';
import { ConfigsImageImpl, ResourceConfigsImpl } from './image/configs.js';
import { type FeatureStamps, FeaturesImageImpl } from './image/features.js';
import { MetadataImage } from './image/metadata-image.js';
import { Committed, GroupOffsetsImpl, OffsetsImageImpl } from './image/offsets.js';
import { PMap } from './image/pmap.js';
import { TermsImageImpl } from './image/terms.js';
import { newPartition, TopicImageImpl, TopicsImageImpl } from './image/topics.js';
import type {
  BrokerRegistration,
  CommittedOffset,
  ConfigRemovals,
  ControllerRegistration,
  EmptiedConfigs,
  GroupTopicStamps,
  MigrationState,
  PartitionRegistration,
} from './image/types.js';
import { ZkSessionsDelta, ZkSessionsImageImpl } from './image/zk-sessions.js';
import {
  type ClusterRecord,
  type ConfigRecord,
  type ConfigResourceType,
  checkRecordHeader,
  type FeatureLevelRecord,
  MalformedRecordBatchError,
  type MetadataRecord,
  type MigrationStateRecord,
  type OffsetCommitRecord,
  type PartitionRecord,
  RecordType,
  type RegisterBrokerRecord,
  type TopicRecord,
  UnsupportedRecordError,
  type ZkSessionRecord,
} from './records.js';

/** The snapshot format this build writes and the newest it reads (2: stamps, MigrationState). */
export const SNAPSHOT_FORMAT = 2;
export const SNAPSHOT_MAGIC = 'kbroker-metadata-snapshot';

const FRAME_HEADER = 1;
const FRAME_RECORDS = 2;
const FRAME_FOOTER = 3;
const FRAME_PREFIX_BYTES = 5;
/** A frame longer than this is corruption, not data (a writer's frames stay near `chunkBytes`). */
const MAX_FRAME_BYTES = 256 * 1024 * 1024;

export class SnapshotFormatError extends Error {
  override readonly name = 'SnapshotFormatError';
  readonly code = 'SNAPSHOT_FORMAT';
}

export class SnapshotChecksumError extends Error {
  override readonly name = 'SnapshotChecksumError';
  readonly code = 'SNAPSHOT_CHECKSUM';
  constructor(
    readonly expected: number,
    readonly actual: number,
  ) {
    super(
      `metadata snapshot checksum mismatch: footer says crc32 ${hex(expected)}, the bytes before it give ${hex(actual)}`,
    );
  }
}

function hex(n: number): string {
  return `0x${(n >>> 0).toString(16).padStart(8, '0')}`;
}

export interface SnapshotHeader {
  readonly magic: string;
  readonly format: number;
  readonly offset: number;
  readonly epoch: number;
  readonly timestampMs: number;
  readonly brokers: number;
  readonly topics: number;
  readonly partitions: number;
  readonly groups: number;
  /** Format 2 on. */
  readonly stamps?: SnapshotStamps;
}

/** The image's domain-wide stamps (format 2): see the module comment. */
export interface SnapshotStamps {
  /** [first offset, term, time] of each term. */
  readonly terms: readonly (readonly [number, number, number])[];
  readonly cluster: ClusterStamps;
  readonly features: FeatureStamps;
  readonly topicsRemoved: readonly [number, number];
  /** [resource type, count, last offset]. */
  readonly configRemovals: readonly (readonly [number, number, number])[];
  readonly groupsRemoved: readonly [number, number];
}

export interface WriteSnapshotOptions {
  /** Size of each yielded chunk (the last may be shorter). Default 1 MiB. */
  readonly chunkBytes?: number;
  /** Records per RECORDS frame. Default 2,000. */
  readonly recordsPerFrame?: number;
}

type Extra<R, E> = R & E;
type SnapBroker = Extra<RegisterBrokerRecord, { brokerEpoch: number; registeredTimeMs: number }>;
type SnapTopic = Extra<
  TopicRecord,
  {
    createdOffset: number;
    createdTimeMs: number;
    assignmentChangedOffset: number;
    assignmentChangedTimeMs: number;
    assignmentVersion: number;
  }
>;
type SnapPartition = Extra<
  PartitionRecord,
  { createdOffset: number; createdTimeMs: number; changedOffset: number; changedTimeMs: number }
>;
type SnapConfig = Extra<
  ConfigRecord,
  {
    createdOffset: number;
    createdTimeMs: number;
    changedOffset: number;
    changedTimeMs: number;
    resourceVersion: number;
  }
>;
type SnapMigration = Extra<MigrationStateRecord, { changedOffset: number; changedTimeMs: number }>;
type SnapCommit = Extra<
  OffsetCommitRecord,
  {
    changedOffset: number;
    createdOffset: number;
    createdTimeMs: number;
    commitVersion: number;
    groupCreatedOffset?: number;
    groupCreatedTimeMs?: number;
    removedTopics?: number;
    topicsRemovedOffset?: number;
    topicCreatedOffset?: number;
    topicCreatedTimeMs?: number;
    removedPartitions?: number;
    partitionsRemovedOffset?: number;
  }
>;

/** A record as a snapshot holds it: a metadata record, with snapshot-only stamps where needed. */
export type SnapshotRecord =
  | MetadataRecord
  | SnapBroker
  | SnapTopic
  | SnapPartition
  | SnapConfig
  | SnapCommit
  | SnapMigration;

/** Every record reproducing `image`, in snapshot order. */
function* snapshotRecords(image: MetadataImage): Generator<SnapshotRecord> {
  if (image.cluster.clusterId !== '') {
    yield {
      type: RecordType.Cluster,
      version: 0,
      clusterId: image.cluster.clusterId,
    } satisfies ClusterRecord;
  }
  for (const [name, level] of image.features.all()) {
    yield { type: RecordType.FeatureLevel, version: 0, name, level } satisfies FeatureLevelRecord;
  }
  for (const c of image.cluster.controllers()) {
    yield { type: RecordType.RegisterController, version: 0, controllerId: c.id, endpoints: c.endpoints };
  }
  for (const b of image.cluster.brokers()) {
    yield {
      type: RecordType.RegisterBroker,
      version: 0,
      brokerId: b.id,
      incarnationId: b.incarnationId,
      endpoints: b.endpoints,
      rack: b.rack,
      fenced: b.fenced,
      inControlledShutdown: b.inControlledShutdown,
      brokerEpoch: b.epoch,
      registeredTimeMs: b.registeredTimeMs,
    } satisfies SnapBroker;
  }
  for (const t of image.topics.topics()) {
    yield {
      type: RecordType.Topic,
      version: 0,
      name: t.name,
      topicId: t.id,
      createdOffset: t.createdOffset,
      createdTimeMs: t.createdTimeMs,
      assignmentChangedOffset: t.assignmentChangedOffset,
      assignmentChangedTimeMs: t.assignmentChangedTimeMs,
      assignmentVersion: t.assignmentVersion,
    } satisfies SnapTopic;
    const parts = t.partitions;
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i]!;
      yield {
        type: RecordType.Partition,
        version: 0,
        topicId: t.id,
        partitionId: i,
        replicas: p.replicas,
        isr: p.isr,
        leader: p.leader,
        leaderEpoch: p.leaderEpoch,
        partitionEpoch: p.partitionEpoch,
        leaderRecoveryState: p.leaderRecoveryState,
        createdOffset: p.createdOffset,
        createdTimeMs: p.createdTimeMs,
        changedOffset: p.changedOffset,
        changedTimeMs: p.changedTimeMs,
      } satisfies SnapPartition;
    }
  }
  for (const type of image.configs.types()) {
    for (const [resourceName, r] of image.configs.resources(type as ConfigResourceType)) {
      for (const [name, value] of r.values) {
        yield {
          type: RecordType.Config,
          version: 0,
          resourceType: type as ConfigResourceType,
          resourceName,
          name,
          value,
          createdOffset: r.createdOffset,
          createdTimeMs: r.createdTimeMs,
          changedOffset: r.changedOffset,
          changedTimeMs: r.changedTimeMs,
          resourceVersion: r.version,
        } satisfies SnapConfig;
      }
    }
  }
  for (const type of image.configs.emptiedByType.keys()) {
    for (const [resourceName, e] of image.configs.emptiedByType.get(type)!.entries()) {
      yield {
        type: RecordType.Config,
        version: 0,
        resourceType: type as ConfigResourceType,
        resourceName,
        name: '',
        value: null,
        createdOffset: e.createdOffset,
        createdTimeMs: e.createdTimeMs,
        changedOffset: e.changedOffset,
        changedTimeMs: e.changedTimeMs,
        resourceVersion: e.version,
      } satisfies SnapConfig;
    }
  }
  for (const g of image.offsets.groups()) {
    let first = true;
    let lastTopic: string | undefined;
    for (const [topic, partition, c] of g.entries()) {
      const ts = topic !== lastTopic ? g.topicStamps(topic) : undefined;
      lastTopic = topic;
      yield {
        type: RecordType.OffsetCommit,
        version: 0,
        groupId: g.groupId,
        topic,
        partition,
        offset: c.offset,
        metadata: c.metadata,
        commitTimestampMs: c.commitTimestampMs,
        changedOffset: c.changedOffset,
        createdOffset: c.createdOffset,
        createdTimeMs: c.createdTimeMs,
        commitVersion: c.version,
        ...(first
          ? {
              groupCreatedOffset: g.createdOffset,
              groupCreatedTimeMs: g.createdTimeMs,
              removedTopics: g.removedTopics,
              topicsRemovedOffset: g.topicsRemovedOffset,
            }
          : {}),
        ...(ts !== undefined
          ? {
              topicCreatedOffset: ts.createdOffset,
              topicCreatedTimeMs: ts.createdTimeMs,
              removedPartitions: ts.removedPartitions,
              partitionsRemovedOffset: ts.lastRemovedOffset,
            }
          : {}),
      } satisfies SnapCommit;
      first = false;
    }
  }
  for (const z of image.zkSessions.sessions()) {
    yield {
      type: RecordType.ZkSession,
      version: 0,
      sessionId: z.id,
      password: z.password,
      timeoutMs: z.timeoutMs,
      ownerId: z.ownerId,
    } satisfies ZkSessionRecord;
  }
  const m = image.migration;
  if (m !== null) {
    yield {
      type: RecordType.MigrationState,
      version: 0,
      migrationId: m.migrationId,
      source: m.source,
      phase: m.phase,
      batchesDone: m.batchesDone,
      batchesTotal: m.batchesTotal,
      recordsDone: m.recordsDone,
      recordsTotal: m.recordsTotal,
      counts: m.counts,
      zkControllerEpoch: m.zkControllerEpoch,
      startedTimeMs: m.startedTimeMs,
      changedOffset: m.changedOffset,
      changedTimeMs: m.changedTimeMs,
    } satisfies SnapMigration;
  }
}

function snapshotStamps(image: MetadataImage): SnapshotStamps {
  const configRemovals: [number, number, number][] = [];
  for (const [type, r] of image.configs.removalsByType) configRemovals.push([type, r.count, r.lastOffset]);
  return {
    terms: image.terms.toComparable(),
    cluster: { ...image.cluster.stamps },
    features: { ...image.features.stamps },
    topicsRemoved: [image.topics.removedCount, image.topics.lastRemovedOffset],
    configRemovals,
    groupsRemoved: [image.offsets.removedGroups, image.offsets.lastRemovedOffset],
  };
}

/** Accumulates frames, keeps the running CRC, and cuts the byte stream into fixed-size chunks. */
class ChunkWriter {
  private buf: Uint8Array;
  private used = 0;
  private crc = 0;
  readonly ready: Uint8Array[] = [];

  constructor(private readonly chunkBytes: number) {
    this.buf = new Uint8Array(chunkBytes);
  }

  frame(kind: number, payload: Uint8Array, checksummed: boolean): void {
    const prefix = new Uint8Array(FRAME_PREFIX_BYTES);
    prefix[0] = kind;
    new DataView(prefix.buffer).setUint32(1, payload.length);
    if (checksummed) this.crc = crc32(payload, crc32(prefix, this.crc));
    this.write(prefix);
    this.write(payload);
  }

  get checksum(): number {
    return this.crc;
  }

  private write(bytes: Uint8Array): void {
    let at = 0;
    while (at < bytes.length) {
      const n = Math.min(bytes.length - at, this.chunkBytes - this.used);
      this.buf.set(bytes.subarray(at, at + n), this.used);
      this.used += n;
      at += n;
      if (this.used === this.chunkBytes) {
        this.ready.push(this.buf);
        this.buf = new Uint8Array(this.chunkBytes);
        this.used = 0;
      }
    }
  }

  finish(): void {
    if (this.used > 0) this.ready.push(this.buf.slice(0, this.used));
    this.used = 0;
  }
}

/**
 * Serialises `image`. The image is immutable, so the returned iterable may be consumed at any later
 * time and still yields exactly this image. Chunk boundaries carry no meaning: a reader may receive
 * the bytes cut anywhere.
 */
export function* writeSnapshot(
  image: MetadataImage,
  options: WriteSnapshotOptions = {},
): Generator<Uint8Array> {
  const chunkBytes = options.chunkBytes ?? 1024 * 1024;
  const perFrame = options.recordsPerFrame ?? 2000;
  if (!(chunkBytes > 0) || !(perFrame > 0))
    throw new RangeError('chunkBytes and recordsPerFrame must be positive');
  const packr = new Packr({ useRecords: true });
  const out = new ChunkWriter(chunkBytes);
  const header: SnapshotHeader = {
    magic: SNAPSHOT_MAGIC,
    format: SNAPSHOT_FORMAT,
    offset: image.provenance.offset,
    epoch: image.provenance.epoch,
    timestampMs: image.provenance.timestampMs,
    brokers: image.cluster.brokerCount,
    topics: image.topics.topicCount,
    partitions: image.topics.partitionCount,
    groups: image.offsets.groupCount,
    stamps: snapshotStamps(image),
  };
  out.frame(FRAME_HEADER, new Packr({ useRecords: false }).pack(header), true);
  let count = 0;
  let batch: SnapshotRecord[] = [];
  for (const record of snapshotRecords(image)) {
    batch.push(record);
    if (batch.length >= perFrame) {
      out.frame(FRAME_RECORDS, packr.pack(batch), true);
      count += batch.length;
      batch = [];
      while (out.ready.length > 0) yield out.ready.shift()!;
    }
  }
  if (batch.length > 0) {
    out.frame(FRAME_RECORDS, packr.pack(batch), true);
    count += batch.length;
  }
  out.frame(
    FRAME_FOOTER,
    new Packr({ useRecords: false }).pack({ records: count, crc32: out.checksum }),
    false,
  );
  out.finish();
  yield* out.ready;
}

/** Reassembles frames from arbitrarily cut chunks. */
class FrameReader {
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
  }

  get buffered(): number {
    return this.pendingBytes;
  }

  /** The next whole frame (prefix included), or undefined if more bytes are needed. */
  next(): { kind: number; frame: Uint8Array; payload: Uint8Array } | undefined {
    if (this.pendingBytes < FRAME_PREFIX_BYTES) return undefined;
    const prefix = this.peek(FRAME_PREFIX_BYTES);
    const kind = prefix[0]!;
    const length = new DataView(prefix.buffer, prefix.byteOffset, prefix.byteLength).getUint32(1);
    if (length > MAX_FRAME_BYTES) {
      throw new SnapshotFormatError(`metadata snapshot frame of ${length} bytes exceeds ${MAX_FRAME_BYTES}`);
    }
    const total = FRAME_PREFIX_BYTES + length;
    if (this.pendingBytes < total) return undefined;
    const frame = this.take(total);
    return { kind, frame, payload: frame.subarray(FRAME_PREFIX_BYTES) };
  }

  private peek(n: number): Uint8Array {
    const first = this.pending[0]!;
    if (first.length >= n) return first.subarray(0, n);
    const out = new Uint8Array(n);
    let at = 0;
    for (const c of this.pending) {
      const k = Math.min(c.length, n - at);
      out.set(c.subarray(0, k), at);
      at += k;
      if (at === n) break;
    }
    return out;
  }

  private take(n: number): Uint8Array {
    const first = this.pending[0]!;
    if (first.length >= n) {
      const out = first.subarray(0, n);
      if (first.length === n) this.pending.shift();
      else this.pending[0] = first.subarray(n);
      this.pendingBytes -= n;
      return out;
    }
    const out = new Uint8Array(n);
    let at = 0;
    while (at < n) {
      const c = this.pending[0]!;
      const k = Math.min(c.length, n - at);
      out.set(c.subarray(0, k), at);
      at += k;
      if (k === c.length) this.pending.shift();
      else this.pending[0] = c.subarray(k);
    }
    this.pendingBytes -= n;
    return out;
  }
}

function num(record: Record<string, unknown>, field: string): number {
  const v = record[field];
  if (typeof v !== 'number') {
    throw new SnapshotFormatError(
      `metadata snapshot record type ${String(record.type)} lacks numeric snapshot field ${field}`,
    );
  }
  return v;
}

interface TopicBuild {
  readonly record: SnapTopic;
  readonly partitions: PartitionRegistration[];
}

interface ConfigBuild {
  readonly values: Map<string, string>;
  readonly record: SnapConfig;
}

interface GroupBuild {
  readonly topics: Map<string, Map<number, CommittedOffset>>;
  size: number;
  /** From the group's first record (format 2), else undefined: derived from its commits. */
  stamps: readonly [number, number, number, number] | undefined;
  topicStamps: Map<string, GroupTopicStamps> | undefined;
}

/** Builds an image straight from snapshot records (no deltas: every stamp comes from the records). */
class ImageLoader {
  private clusterId = '';
  private readonly features = new Map<string, number>();
  private readonly brokers = new Map<number, BrokerRegistration>();
  private readonly controllers = new Map<number, ControllerRegistration>();
  private readonly topics = new Map<string, TopicBuild>();
  private readonly topicNames = new Set<string>();
  private partitionCount = 0;
  private last: TopicBuild | undefined;
  private readonly configs = new Map<number, Map<string, ConfigBuild>>();
  private migration: MigrationState | null = null;
  private readonly emptied = new Map<number, PMap<EmptiedConfigs>>();
  private readonly groups = new Map<string, GroupBuild>();
  private readonly zkSessions = new ZkSessionsDelta(ZkSessionsImageImpl.EMPTY);

  /** The snapshot's format (its header comes first): format 1 has no stamps beyond the records'. */
  constructor(private readonly format: number) {}

  add(raw: unknown): void {
    if (typeof raw !== 'object' || raw === null)
      throw new SnapshotFormatError('metadata snapshot record is not a map');
    checkRecordHeader(raw as { type?: unknown; version?: unknown });
    const record = raw as MetadataRecord;
    const fields = raw as Record<string, unknown>;
    switch (record.type) {
      case RecordType.Cluster:
        this.clusterId = record.clusterId;
        return;
      case RecordType.FeatureLevel:
        if (record.level !== 0) this.features.set(record.name, record.level);
        return;
      case RecordType.RegisterController:
        this.controllers.set(record.controllerId, { id: record.controllerId, endpoints: record.endpoints });
        return;
      case RecordType.RegisterBroker:
        this.brokers.set(
          record.brokerId,
          brokerRegistration(record, num(fields, 'brokerEpoch'), num(fields, 'registeredTimeMs')),
        );
        return;
      case RecordType.Topic: {
        if (this.topics.has(record.topicId) || this.topicNames.has(record.name)) {
          throw new SnapshotFormatError(
            `metadata snapshot holds topic ${record.name} (${record.topicId}) twice`,
          );
        }
        for (const f of [
          'createdOffset',
          'createdTimeMs',
          'assignmentChangedOffset',
          'assignmentChangedTimeMs',
          'assignmentVersion',
        ]) {
          num(fields, f);
        }
        const t: TopicBuild = { record: record as SnapTopic, partitions: [] };
        this.topics.set(record.topicId, t);
        this.topicNames.add(record.name);
        this.last = t;
        return;
      }
      case RecordType.Partition: {
        const t = this.last?.record.topicId === record.topicId ? this.last : this.topics.get(record.topicId);
        if (t === undefined) {
          throw new SnapshotFormatError(
            `metadata snapshot partition names unknown topic id ${record.topicId}`,
          );
        }
        if (record.partitionId !== t.partitions.length) {
          throw new SnapshotFormatError(
            `metadata snapshot partition ${record.partitionId} of topic ${t.record.name} is out of order (expected ${t.partitions.length})`,
          );
        }
        // The decoded arrays are this loader's own: adopted, not copied.
        t.partitions.push(
          newPartition(
            record.replicas,
            record.isr,
            record.leader,
            record.leaderEpoch,
            record.partitionEpoch,
            record.leaderRecoveryState,
            num(fields, 'createdOffset'),
            num(fields, 'createdTimeMs'),
            num(fields, 'changedOffset'),
            num(fields, 'changedTimeMs'),
          ),
        );
        this.partitionCount++;
        return;
      }
      case RecordType.Config: {
        if (record.value === null) {
          if (this.format < 2) return;
          const e: EmptiedConfigs = Object.freeze({
            createdOffset: num(fields, 'createdOffset'),
            createdTimeMs: num(fields, 'createdTimeMs'),
            changedOffset: num(fields, 'changedOffset'),
            changedTimeMs: num(fields, 'changedTimeMs'),
            version: num(fields, 'resourceVersion'),
          });
          const m = this.emptied.get(record.resourceType) ?? PMap.empty<EmptiedConfigs>();
          this.emptied.set(record.resourceType, m.set(record.resourceName, e));
          return;
        }
        let byName = this.configs.get(record.resourceType);
        if (byName === undefined) {
          byName = new Map();
          this.configs.set(record.resourceType, byName);
        }
        let c = byName.get(record.resourceName);
        if (c === undefined) {
          for (const f of [
            'createdOffset',
            'createdTimeMs',
            'changedOffset',
            'changedTimeMs',
            'resourceVersion',
          ]) {
            num(fields, f);
          }
          c = { values: new Map(), record: record as SnapConfig };
          byName.set(record.resourceName, c);
        }
        c.values.set(record.name, record.value);
        return;
      }
      case RecordType.OffsetCommit: {
        let g = this.groups.get(record.groupId);
        if (g === undefined) {
          g = { topics: new Map(), size: 0, stamps: undefined, topicStamps: undefined };
          this.groups.set(record.groupId, g);
        }
        if (fields.groupCreatedOffset !== undefined) {
          g.stamps = [
            num(fields, 'groupCreatedOffset'),
            num(fields, 'groupCreatedTimeMs'),
            num(fields, 'removedTopics'),
            num(fields, 'topicsRemovedOffset'),
          ];
        }
        if (fields.topicCreatedOffset !== undefined) {
          g.topicStamps ??= new Map();
          g.topicStamps.set(
            record.topic,
            Object.freeze({
              createdOffset: num(fields, 'topicCreatedOffset'),
              createdTimeMs: num(fields, 'topicCreatedTimeMs'),
              removedPartitions: num(fields, 'removedPartitions'),
              lastRemovedOffset: num(fields, 'partitionsRemovedOffset'),
            }),
          );
        }
        let parts = g.topics.get(record.topic);
        if (parts === undefined) {
          parts = new Map();
          g.topics.set(record.topic, parts);
        }
        if (!parts.has(record.partition)) g.size++;
        parts.set(
          record.partition,
          new Committed(
            record.offset,
            record.metadata,
            record.commitTimestampMs,
            num(fields, 'changedOffset'),
            num(fields, 'createdOffset'),
            num(fields, 'createdTimeMs'),
            num(fields, 'commitVersion'),
          ),
        );
        return;
      }
      case RecordType.ZkSession:
        this.zkSessions.replaySession(record);
        return;
      case RecordType.MigrationState: {
        const { type: _t, version: _v, ...state } = record as SnapMigration;
        num(fields, 'changedOffset');
        num(fields, 'changedTimeMs');
        this.migration = Object.freeze({ ...state, counts: Object.freeze({ ...state.counts }) });
        return;
      }
      default:
        throw new SnapshotFormatError(
          `metadata snapshot holds record type ${record.type}, which snapshots never contain`,
        );
    }
  }

  build(header: SnapshotHeader): MetadataImage {
    const stamps = header.stamps;
    const features =
      this.features.size === 0 && stamps === undefined
        ? FeaturesImageImpl.EMPTY
        : new FeaturesImageImpl(this.features, stamps === undefined ? undefined : { ...stamps.features });
    const cluster =
      this.clusterId === '' && this.brokers.size === 0 && this.controllers.size === 0 && stamps === undefined
        ? ClusterImageImpl.EMPTY
        : new ClusterImageImpl(
            this.clusterId,
            this.brokers,
            this.controllers,
            stamps === undefined ? undefined : Object.freeze({ ...stamps.cluster }),
          );
    const byId = PMap.empty<TopicImageImpl>().asMutable();
    const byName = PMap.empty<string>().asMutable();
    for (const { record: r, partitions } of this.topics.values()) {
      byId.set(
        r.topicId,
        new TopicImageImpl(
          r.topicId,
          r.name,
          partitions,
          r.createdOffset,
          r.createdTimeMs,
          r.assignmentChangedOffset,
          r.assignmentChangedTimeMs,
          r.assignmentVersion,
        ),
      );
      byName.set(r.name, r.topicId);
    }
    const [topicsRemoved, topicsRemovedOffset] = stamps?.topicsRemoved ?? [0, 0];
    const topics =
      this.topics.size === 0 && topicsRemoved === 0
        ? TopicsImageImpl.EMPTY
        : new TopicsImageImpl(
            byId.build(),
            byName.build(),
            this.partitionCount,
            topicsRemoved,
            topicsRemovedOffset,
          );
    const byType = new Map<number, PMap<ResourceConfigsImpl>>();
    for (const [type, resources] of this.configs) {
      const b = PMap.empty<ResourceConfigsImpl>().asMutable();
      for (const [name, { values, record: r }] of resources) {
        b.set(
          name,
          new ResourceConfigsImpl(
            values,
            r.createdOffset,
            r.createdTimeMs,
            r.changedOffset,
            r.changedTimeMs,
            r.resourceVersion,
          ),
        );
      }
      byType.set(type, b.build());
    }
    const removals = new Map<number, ConfigRemovals>();
    for (const [type, count, lastOffset] of stamps?.configRemovals ?? [])
      removals.set(type, Object.freeze({ count, lastOffset }));
    const configs =
      byType.size === 0 && this.emptied.size === 0 && removals.size === 0
        ? ConfigsImageImpl.EMPTY
        : new ConfigsImageImpl(byType, this.emptied, removals);
    const groups = PMap.empty<GroupOffsetsImpl>().asMutable();
    for (const [groupId, g] of this.groups) {
      // Format 1: the group's creation is its oldest commit, as replay would have stamped it then.
      const [created, createdTime, removedTopics, topicsRemovedOffset] = g.stamps ?? oldestCommit(g);
      groups.set(
        groupId,
        new GroupOffsetsImpl(
          groupId,
          PMap.from(g.topics),
          g.size,
          created,
          createdTime,
          removedTopics,
          topicsRemovedOffset,
          g.topicStamps,
        ),
      );
    }
    const [groupsRemoved, groupsRemovedOffset] = stamps?.groupsRemoved ?? [0, 0];
    const offsets =
      this.groups.size === 0 && groupsRemoved === 0
        ? OffsetsImageImpl.EMPTY
        : new OffsetsImageImpl(groups.build(), groupsRemoved, groupsRemovedOffset);
    const provenance = Object.freeze({
      offset: header.offset,
      epoch: header.epoch,
      timestampMs: header.timestampMs,
    });
    // Format 1 knows only the snapshot's own term: it is dated at the snapshot's offset.
    const terms =
      stamps === undefined
        ? TermsImageImpl.EMPTY.observe(header.offset, header.epoch, header.timestampMs)
        : new TermsImageImpl(
            stamps.terms.map((t) => t[0]),
            stamps.terms.map((t) => t[1]),
            stamps.terms.map((t) => t[2]),
          );
    return new MetadataImage(
      provenance,
      features,
      cluster,
      topics,
      configs,
      offsets,
      this.zkSessions.apply(),
      terms,
      this.migration,
    );
  }
}

function oldestCommit(g: GroupBuild): [number, number, number, number] {
  let first: CommittedOffset | undefined;
  for (const parts of g.topics.values())
    for (const c of parts.values())
      if (first === undefined || c.createdOffset < first.createdOffset) first = c;
  return [first?.createdOffset ?? 0, first?.createdTimeMs ?? 0, 0, 0];
}

function decodeHeader(payload: Uint8Array): SnapshotHeader {
  let raw: unknown;
  try {
    raw = new Unpackr({ useRecords: false, mapsAsObjects: true }).unpack(payload);
  } catch (err) {
    throw new SnapshotFormatError(`undecodable metadata snapshot header: ${(err as Error).message}`);
  }
  const h = raw as Partial<SnapshotHeader> | null;
  if (typeof h !== 'object' || h === null || h.magic !== SNAPSHOT_MAGIC) {
    throw new SnapshotFormatError('not a kbroker metadata snapshot (bad header magic)');
  }
  if (typeof h.format !== 'number' || h.format > SNAPSHOT_FORMAT || h.format < 1) {
    throw new SnapshotFormatError(
      `metadata snapshot format ${String(h.format)} is not supported: this build reads formats 1 to ${SNAPSHOT_FORMAT}`,
    );
  }
  for (const f of ['offset', 'epoch', 'timestampMs'] as const) {
    if (typeof h[f] !== 'number') throw new SnapshotFormatError(`metadata snapshot header lacks ${f}`);
  }
  if (h.format >= 2) {
    const st = h.stamps as Partial<SnapshotStamps> | undefined;
    const ok =
      typeof st === 'object' &&
      st !== null &&
      Array.isArray(st.terms) &&
      typeof st.cluster === 'object' &&
      typeof st.features === 'object' &&
      Array.isArray(st.topicsRemoved) &&
      Array.isArray(st.configRemovals) &&
      Array.isArray(st.groupsRemoved);
    if (!ok) throw new SnapshotFormatError(`metadata snapshot format ${h.format} header lacks its stamps`);
  }
  return h as SnapshotHeader;
}

function loadFrame(unpackr: Unpackr, payload: Uint8Array, loader: ImageLoader): number {
  let batch: unknown;
  try {
    batch = unpackr.unpack(payload);
  } catch (err) {
    throw new SnapshotFormatError(`undecodable metadata snapshot records: ${(err as Error).message}`);
  }
  if (!Array.isArray(batch)) throw new SnapshotFormatError('metadata snapshot records frame is not an array');
  for (const r of batch) typed(() => loader.add(r));
  return batch.length;
}

/**
 * Loads a snapshot written by {@link writeSnapshot}. Throws {@link SnapshotFormatError} for anything
 * that is not a complete snapshot of a format this build reads (naming the format found), and
 * {@link SnapshotChecksumError} when the bytes do not match the footer's CRC32. The checksum is
 * verified before the image is returned, so a corrupt snapshot never yields an image.
 */
export async function readSnapshot(
  chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
): Promise<MetadataImage> {
  const frames = new FrameReader();
  const unpackr = new Unpackr({ useRecords: true, mapsAsObjects: true });
  let loader: ImageLoader | undefined;
  let header: SnapshotHeader | undefined;
  let footer: { records: number; crc32: number } | undefined;
  let crc = 0;
  let records = 0;
  let failure: unknown;
  for await (const chunk of chunks) {
    if (footer !== undefined) {
      if (chunk.length > 0) throw new SnapshotFormatError('metadata snapshot has bytes after its footer');
      continue;
    }
    frames.push(chunk);
    for (let f = frames.next(); f !== undefined; f = frames.next()) {
      if (header === undefined) {
        if (f.kind !== FRAME_HEADER)
          throw new SnapshotFormatError('not a kbroker metadata snapshot (no header frame)');
        header = decodeHeader(f.payload);
        loader = new ImageLoader(header.format);
        crc = crc32(f.frame, crc);
        continue;
      }
      if (f.kind === FRAME_RECORDS) {
        crc = crc32(f.frame, crc);
        // After a bad record keep checksumming: corruption then surfaces as a checksum error.
        if (failure === undefined) {
          try {
            records += loadFrame(unpackr, f.payload, loader!);
          } catch (err) {
            failure = err;
          }
        }
        continue;
      }
      if (f.kind === FRAME_FOOTER) {
        let raw: { records?: unknown; crc32?: unknown } | null;
        try {
          raw = new Unpackr({ useRecords: false, mapsAsObjects: true }).unpack(f.payload);
        } catch (err) {
          throw new SnapshotFormatError(`undecodable metadata snapshot footer: ${(err as Error).message}`);
        }
        if (typeof raw?.records !== 'number' || typeof raw.crc32 !== 'number') {
          throw new SnapshotFormatError('metadata snapshot footer lacks records or crc32');
        }
        footer = { records: raw.records, crc32: raw.crc32 };
        if (frames.buffered > 0)
          throw new SnapshotFormatError('metadata snapshot has bytes after its footer');
        break;
      }
      throw new SnapshotFormatError(`metadata snapshot holds an unknown frame kind ${f.kind}`);
    }
  }
  if (header === undefined)
    throw new SnapshotFormatError('metadata snapshot is empty or truncated in its header');
  if (footer === undefined) throw new SnapshotFormatError('metadata snapshot is truncated (no footer)');
  if (footer.crc32 >>> 0 !== crc >>> 0) throw new SnapshotChecksumError(footer.crc32, crc);
  if (failure !== undefined) throw failure;
  if (footer.records !== records) {
    throw new SnapshotFormatError(
      `metadata snapshot footer counts ${footer.records} records, the stream held ${records}`,
    );
  }
  const built = loader!;
  return typed(() => built.build(header));
}

/**
 * Runs a step of loading records: a record whose fields have the wrong types (a snapshot written by a
 * buggy or foreign writer, under a valid checksum) surfaces as a SnapshotFormatError, not a TypeError
 * from deep inside the image.
 */
function typed<T>(step: () => T): T {
  try {
    return step();
  } catch (err) {
    if (
      err instanceof SnapshotFormatError ||
      err instanceof UnsupportedRecordError ||
      err instanceof MalformedRecordBatchError
    )
      throw err;
    throw new SnapshotFormatError(
      `malformed metadata snapshot record: ${(err as Error)?.message ?? String(err)}`,
      {
        cause: err,
      },
    );
  }
}

/** Reads only the header (format, provenance, counts) of a snapshot stream. */
export async function readSnapshotHeader(
  chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
): Promise<SnapshotHeader> {
  const frames = new FrameReader();
  for await (const chunk of chunks) {
    frames.push(chunk);
    const f = frames.next();
    if (f === undefined) continue;
    if (f.kind !== FRAME_HEADER)
      throw new SnapshotFormatError('not a kbroker metadata snapshot (no header frame)');
    return decodeHeader(f.payload);
  }
  throw new SnapshotFormatError('metadata snapshot is empty or truncated in its header');
}
