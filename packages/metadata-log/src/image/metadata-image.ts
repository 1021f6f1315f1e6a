/**
 * The metadata image (a frozen view of the whole metadata log at one offset) and the delta that
 * replays records on top of an image to build the next one. Modelled on Kafka's `image` package:
 * one image and one delta per domain; `apply()` rebuilds only the domains a delta touched and every
 * untouched part (domain, topic, partition, group) is shared by identity between versions.
 *
 * Determinism: an image is a pure function of the records replayed and their (offset, epoch, time);
 * replaying the same records in one delta or in many gives equal images.
 */

import { isDeepStrictEqual } from 'node:util';
import { ConfigResourceType, type MetadataRecord, type RecordBatch, RecordType } from '../records.js';
import { ClusterDelta, ClusterImageImpl, clusterChanges } from './cluster.js';
import { ConfigsDelta, ConfigsImageImpl, configsChanges } from './configs.js';
import { MetadataReplayError } from './errors.js';
import { FeaturesDelta, FeaturesImageImpl, featuresChanges } from './features.js';
import { OffsetsDelta, OffsetsImageImpl, offsetsChanges } from './offsets.js';
import { TermsImageImpl } from './terms.js';
import { TopicsDelta, TopicsImageImpl, topicsChanges } from './topics.js';
import type { MetadataChange, MetadataImageView, MigrationState, Provenance } from './types.js';
import { ZkSessionsDelta, ZkSessionsImageImpl, zkSessionsChanges } from './zk-sessions.js';

export const EMPTY_PROVENANCE: Provenance = Object.freeze({ offset: 0, epoch: 0, timestampMs: 0 });

export class MetadataImage implements MetadataImageView {
  static readonly EMPTY = new MetadataImage(
    EMPTY_PROVENANCE,
    FeaturesImageImpl.EMPTY,
    ClusterImageImpl.EMPTY,
    TopicsImageImpl.EMPTY,
    ConfigsImageImpl.EMPTY,
    OffsetsImageImpl.EMPTY,
    ZkSessionsImageImpl.EMPTY,
  );

  constructor(
    readonly provenance: Provenance,
    readonly features: FeaturesImageImpl,
    readonly cluster: ClusterImageImpl,
    readonly topics: TopicsImageImpl,
    readonly configs: ConfigsImageImpl,
    readonly offsets: OffsetsImageImpl,
    readonly zkSessions: ZkSessionsImageImpl = ZkSessionsImageImpl.EMPTY,
    readonly terms: TermsImageImpl = TermsImageImpl.EMPTY,
    readonly migration: MigrationState | null = null,
  ) {
    Object.freeze(this);
  }

  /** A plain, canonically ordered object holding everything the image knows (for tests and diffs). */
  toComparable() {
    return {
      provenance: { ...this.provenance },
      terms: this.terms.toComparable(),
      features: this.features.toComparable(),
      cluster: this.cluster.toComparable(),
      topics: this.topics.toComparable(),
      configs: this.configs.toComparable(),
      offsets: this.offsets.toComparable(),
      zkSessions: this.zkSessions.toComparable(),
      migration: this.migration === null ? null : { ...this.migration, counts: { ...this.migration.counts } },
    };
  }

  /** Value equality; shared sub-images are not re-compared. */
  equals(other: MetadataImage): boolean {
    if (this === other) return true;
    if (!isDeepStrictEqual({ ...this.provenance }, { ...other.provenance })) return false;
    if (
      this.terms !== other.terms &&
      !isDeepStrictEqual(this.terms.toComparable(), other.terms.toComparable())
    )
      return false;
    const same = <T extends { toComparable(): unknown }>(a: T, b: T) =>
      a === b || isDeepStrictEqual(a.toComparable(), b.toComparable());
    return (
      same(this.features, other.features) &&
      same(this.cluster, other.cluster) &&
      same(this.topics, other.topics) &&
      same(this.configs, other.configs) &&
      same(this.offsets, other.offsets) &&
      same(this.zkSessions, other.zkSessions) &&
      isDeepStrictEqual(this.migration, other.migration)
    );
  }
}

/**
 * Replays records on top of `image`. Use once: replay, then `apply()` (and `changes()`); a delta
 * cannot be replayed into after `apply()`, because its working copies now belong to the new image.
 */
export class MetadataDelta {
  private provenance: Provenance;
  private terms: TermsImageImpl;
  private featuresDelta: FeaturesDelta | undefined;
  private clusterDelta: ClusterDelta | undefined;
  private topicsDelta: TopicsDelta | undefined;
  private configsDelta: ConfigsDelta | undefined;
  private offsetsDelta: OffsetsDelta | undefined;
  private zkSessionsDelta: ZkSessionsDelta | undefined;
  /** The migration state replayed by this delta, if any. */
  private migration: MigrationState | undefined;
  private applied: MetadataImage | undefined;
  private records = 0;

  constructor(readonly image: MetadataImage) {
    this.provenance = image.provenance;
    this.terms = image.terms;
  }

  /** Records replayed so far. */
  get recordCount(): number {
    return this.records;
  }

  private get features(): FeaturesDelta {
    this.featuresDelta ??= new FeaturesDelta(this.image.features);
    return this.featuresDelta;
  }
  private get cluster(): ClusterDelta {
    this.clusterDelta ??= new ClusterDelta(this.image.cluster);
    return this.clusterDelta;
  }
  private get topics(): TopicsDelta {
    this.topicsDelta ??= new TopicsDelta(this.image.topics);
    return this.topicsDelta;
  }
  private get configs(): ConfigsDelta {
    this.configsDelta ??= new ConfigsDelta(this.image.configs);
    return this.configsDelta;
  }
  private get offsets(): OffsetsDelta {
    this.offsetsDelta ??= new OffsetsDelta(this.image.offsets);
    return this.offsetsDelta;
  }

  private get zkSessions(): ZkSessionsDelta {
    this.zkSessionsDelta ??= new ZkSessionsDelta(this.image.zkSessions);
    return this.zkSessionsDelta;
  }

  /** Moves the provenance without records (a Raft NoOp or membership entry); time is unchanged. */
  advance(offset: number, epoch: number, timestampMs = this.provenance.timestampMs): void {
    this.checkOpen();
    if (offset < this.provenance.offset) {
      throw new RangeError(`offset ${offset} is before the delta's offset ${this.provenance.offset}`);
    }
    this.provenance = Object.freeze({ offset, epoch, timestampMs });
    this.terms = this.terms.observe(offset, epoch, timestampMs);
  }

  /** Replays every record of one batch (one Raft entry at `offset` in term `epoch`). */
  replayBatch(batch: RecordBatch, offset: number, epoch: number): void {
    this.advance(offset, epoch, batch.timestampMs);
    for (const record of batch.records) this.replayRecord(record, offset, batch.timestampMs);
  }

  /** Replays one record; the epoch is kept from the last batch unless given. */
  replay(record: MetadataRecord, offset: number, timestampMs: number, epoch = this.provenance.epoch): void {
    if (offset < this.provenance.offset) {
      throw new MetadataReplayError(
        offset,
        record,
        `offset goes back (delta is at ${this.provenance.offset})`,
      );
    }
    this.advance(offset, epoch, timestampMs);
    this.replayRecord(record, offset, timestampMs);
  }

  private replayRecord(record: MetadataRecord, offset: number, ts: number): void {
    this.records++;
    switch (record.type) {
      case RecordType.Cluster:
        this.cluster.replayCluster(record.clusterId, offset, ts);
        return;
      case RecordType.RegisterController:
        this.cluster.replayController(record);
        return;
      case RecordType.FeatureLevel:
        this.features.replay(record, offset, ts);
        return;
      case RecordType.RegisterBroker:
        this.cluster.replayRegister(record, offset, ts);
        return;
      case RecordType.BrokerRegistrationChange:
        this.cluster.replayChange(record, offset);
        return;
      case RecordType.UnregisterBroker:
        this.cluster.replayUnregister(record, offset);
        return;
      case RecordType.Topic:
        this.topics.replayTopic(record, offset, ts);
        return;
      case RecordType.Partition:
        this.topics.replayPartition(record, offset, ts);
        return;
      case RecordType.PartitionChange:
        this.topics.replayPartitionChange(record, offset, ts);
        return;
      case RecordType.RemoveTopic: {
        const name = this.topics.replayRemove(record, offset);
        this.configs.removeResource(ConfigResourceType.Topic, name);
        return;
      }
      case RecordType.Config:
        // A topic's configs emptied while the topic exists stay visible (as `{}`): owned.
        this.configs.replay(
          record,
          offset,
          ts,
          record.resourceType === ConfigResourceType.Topic && this.topics.hasName(record.resourceName),
        );
        return;
      case RecordType.OffsetCommit:
        this.offsets.replayCommit(record, offset, ts);
        return;
      case RecordType.OffsetDelete:
        this.offsets.replayDelete(record, offset);
        return;
      case RecordType.ZkSession:
        this.zkSessions.replaySession(record);
        return;
      case RecordType.ZkSessionEnd:
        this.zkSessions.replayEnd(record);
        return;
      case RecordType.NoOp:
        return;
      case RecordType.MigrationState: {
        const { type: _t, version: _v, ...state } = record;
        this.migration = Object.freeze({
          ...state,
          counts: Object.freeze({ ...record.counts }),
          changedOffset: offset,
          changedTimeMs: ts,
        });
        return;
      }
      default:
        throw new MetadataReplayError(offset, record, 'unknown record type');
    }
  }

  private checkOpen(): void {
    if (this.applied !== undefined) throw new Error('MetadataDelta was already applied; start a new delta');
  }

  /** The next image. Untouched domains are the base image's own objects. Idempotent. */
  apply(): MetadataImage {
    if (this.applied !== undefined) return this.applied;
    const base = this.image;
    this.applied = new MetadataImage(
      this.provenance,
      this.featuresDelta?.apply() ?? base.features,
      this.clusterDelta?.apply() ?? base.cluster,
      this.topicsDelta?.apply() ?? base.topics,
      this.configsDelta?.apply() ?? base.configs,
      this.offsetsDelta?.apply() ?? base.offsets,
      this.zkSessionsDelta?.apply() ?? base.zkSessions,
      this.terms,
      this.migration ?? base.migration,
    );
    return this.applied;
  }

  /**
   * What changed, in domain order (cluster id and brokers, features, topics, configs, offsets) and
   * replay order within a domain. Derived by comparing the base and the applied image over the keys
   * the delta touched, so it reports net effects (a value set and reset reports nothing).
   */
  changes(): MetadataChange[] {
    const next = this.apply();
    const base = this.image;
    const out: MetadataChange[] = [];
    if (this.clusterDelta) clusterChanges(base.cluster, next.cluster, this.clusterDelta.touched, out);
    if (this.featuresDelta) featuresChanges(base.features, next.features, this.featuresDelta.touched, out);
    if (this.topicsDelta) topicsChanges(base.topics, next.topics, this.topicsDelta.touched, out);
    if (this.configsDelta) configsChanges(base.configs, next.configs, this.configsDelta.touched(), out);
    if (this.offsetsDelta) {
      const delta = this.offsetsDelta;
      offsetsChanges(base.offsets, next.offsets, delta.touched, out, (g) => delta.touchedTopics(g));
    }
    if (this.zkSessionsDelta) zkSessionsChanges(base.zkSessions, next.zkSessions, this.zkSessionsDelta, out);
    if (this.migration !== undefined) out.push(migrationChange(this.migration));
    return out;
  }
}

function union<T>(a: Iterable<T>, b: Iterable<T>): Set<T> {
  const s = new Set(a);
  for (const x of b) s.add(x);
  return s;
}

/**
 * The changes between two unrelated images (after a snapshot replaced the state): every key of both
 * is compared, so this costs O(image), like the snapshot load that precedes it.
 */
export function diffImages(base: MetadataImage, next: MetadataImage): MetadataChange[] {
  const out: MetadataChange[] = [];
  const brokerIds = union(
    [...base.cluster.brokers()].map((b) => b.id),
    [...next.cluster.brokers()].map((b) => b.id),
  );
  clusterChanges(base.cluster, next.cluster, brokerIds, out);
  featuresChanges(
    base.features,
    next.features,
    union(base.features.all().keys(), next.features.all().keys()),
    out,
  );
  const topicIds = union(
    [...base.topics.topics()].map((t) => t.id),
    [...next.topics.topics()].map((t) => t.id),
  );
  topicsChanges(base.topics, next.topics, topicIds, out);
  const resources = new Map<string, [number, string]>();
  for (const image of [base.configs, next.configs]) {
    for (const type of image.types()) {
      for (const [name] of image.resources(type as ConfigResourceType))
        resources.set(`${type}\u0000${name}`, [type, name]);
    }
  }
  configsChanges(base.configs, next.configs, resources.values(), out);
  const groupIds = union(
    [...base.offsets.groups()].map((g) => g.groupId),
    [...next.offsets.groups()].map((g) => g.groupId),
  );
  offsetsChanges(base.offsets, next.offsets, groupIds, out);
  const sessions = new ZkSessionsDelta(base.zkSessions);
  for (const s of next.zkSessions.sessions())
    sessions.replaySession({
      type: RecordType.ZkSession,
      version: 0,
      sessionId: s.id,
      password: s.password,
      timeoutMs: s.timeoutMs,
      ownerId: s.ownerId,
    });
  for (const s of base.zkSessions.sessions()) {
    if (next.zkSessions.get(s.id) === undefined)
      sessions.replayEnd({ type: RecordType.ZkSessionEnd, version: 0, sessionId: s.id, reason: 'closed' });
  }
  zkSessionsChanges(base.zkSessions, next.zkSessions, sessions, out);
  if (next.migration !== null && !isDeepStrictEqual(base.migration, next.migration))
    out.push(migrationChange(next.migration));
  return out;
}

function migrationChange(m: MigrationState): MetadataChange {
  return {
    kind: 'migration-state',
    phase: m.phase,
    batchesDone: m.batchesDone,
    batchesTotal: m.batchesTotal,
  };
}
