/**
 * Turns a parsed Kafka layout into the metadata records kbroker writes, cut into batches.
 *
 * Deterministic: the same source gives the same records in the same batches, so an interrupted run
 * resumes by sequence number. A topic created before Kafka had topic ids gets an id derived from the
 * cluster id, its name and its znode's czxid (a digest), the same on every run. The migration id is a
 * digest of every record plus the batch size (`<digest>-<records per batch>`): a source that changed
 * between an interrupted run and its resumption gives another id, which the controller refuses while
 * the first migration is in progress.
 */

/** The part of a migration id that depends only on the records (not on how they are batched). */
export function contentOf(migrationId: string): string {
  const i = migrationId.lastIndexOf('-');
  return i < 0 ? migrationId : migrationId.slice(0, i);
}

import { createHash } from 'node:crypto';
import {
  type ConfigRecord,
  ConfigResourceType,
  type FeatureLevelRecord,
  type MetadataRecord,
  type OffsetCommitRecord,
  type PartitionRecord,
  RecordType,
  type TopicRecord,
} from '@kbroker/metadata-log';
import type { KafkaLayout } from './layout.js';

export interface PlannedBatch {
  /** 1-based. */
  readonly sequence: number;
  readonly records: readonly MetadataRecord[];
  /** Cumulative counts once this batch is applied. */
  readonly counts: Readonly<Record<string, number>>;
}

export interface MigrationPlan {
  readonly migrationId: string;
  readonly source: string;
  readonly clusterId: string;
  readonly zkControllerEpoch: number;
  readonly batches: readonly PlannedBatch[];
  readonly recordsTotal: number;
  /** Records by type name (Topic, Partition, Config, OffsetCommit, FeatureLevel). */
  readonly byType: Readonly<Record<string, number>>;
  /** What the plan migrates, by kind (topics, partitions, configs, offsets, features). */
  readonly counts: Readonly<Record<string, number>>;
  /** Topics given a new id (created before Kafka had ids): name -> id. */
  readonly newTopicIds: ReadonlyMap<string, string>;
  /** Every topic's id in the target: name -> id. */
  readonly topicIds: ReadonlyMap<string, string>;
}

export const DEFAULT_BATCH_RECORDS = 4_000;

/** The id a topic without one gets: 16 bytes of SHA-256(cluster id, name, czxid), base64url. */
export function derivedTopicId(clusterId: string, name: string, czxid: string): string {
  for (let salt = 0; ; salt++) {
    const h = createHash('sha256')
      .update(`kbroker-migrate\0${clusterId}\0${name}\0${czxid}\0${salt}`)
      .digest();
    const id = h.subarray(0, 16).toString('base64url');
    // Kafka reserves ids starting with AAAA...A/AQ (zero and the metadata topic); never produce those.
    if (!id.startsWith('AAAAAAAAAAAAAAAAAAAAA')) return id;
  }
}

const TYPE_NAMES: Readonly<Record<number, string>> = {
  [RecordType.Topic]: 'Topic',
  [RecordType.Partition]: 'Partition',
  [RecordType.Config]: 'Config',
  [RecordType.OffsetCommit]: 'OffsetCommit',
  [RecordType.FeatureLevel]: 'FeatureLevel',
};

/** The plan for `layout`; `layout.clusterId` must be set (preflight blocks otherwise). */
export function planMigration(layout: KafkaLayout, batchRecords = DEFAULT_BATCH_RECORDS): MigrationPlan {
  const clusterId = layout.clusterId;
  if (clusterId === null) throw new Error('the source has no cluster id');
  const max = Math.max(1, batchRecords);
  const batches: { records: MetadataRecord[]; counts: Record<string, number> }[] = [];
  const counts: Record<string, number> = { topics: 0, partitions: 0, configs: 0, offsets: 0, features: 0 };
  let current: MetadataRecord[] = [];
  const cut = () => {
    if (current.length === 0) return;
    batches.push({ records: current, counts: { ...counts } });
    current = [];
  };
  /** Adds records that belong together (a topic and its partitions), cutting before if they would not fit. */
  const add = (records: MetadataRecord[], kind: Partial<Record<string, number>>) => {
    if (current.length > 0 && current.length + records.length > max) cut();
    current.push(...records);
    for (const [k, n] of Object.entries(kind)) counts[k] = (counts[k] ?? 0) + (n ?? 0);
    if (current.length >= max) cut();
  };

  for (const [name, level] of [...layout.features].sort(([a], [b]) => (a < b ? -1 : 1))) {
    add([{ type: RecordType.FeatureLevel, version: 0, name, level } satisfies FeatureLevelRecord], {
      features: 1,
    });
  }
  const config = (resourceType: ConfigResourceType, resourceName: string, values: Record<string, string>) =>
    Object.keys(values)
      .sort()
      .map(
        (name): ConfigRecord => ({
          type: RecordType.Config,
          version: 0,
          resourceType,
          resourceName,
          name,
          value: values[name]!,
        }),
      );
  for (const entity of [...layout.brokerConfigs.keys()].sort()) {
    const records = config(ConfigResourceType.Broker, entity === '<default>' ? '' : entity, {
      ...layout.brokerConfigs.get(entity)!,
    });
    add(records, { configs: records.length });
  }

  const newTopicIds = new Map<string, string>();
  const topicIds = new Map<string, string>();
  for (const t of layout.topics) {
    let topicId = t.id;
    if (topicId === null) {
      topicId = derivedTopicId(clusterId, t.name, t.czxid);
      newTopicIds.set(t.name, topicId);
    }
    topicIds.set(t.name, topicId);
    const records: MetadataRecord[] = [
      { type: RecordType.Topic, version: 0, name: t.name, topicId } satisfies TopicRecord,
    ];
    const configs = layout.topicConfigs.get(t.name);
    const configRecords =
      configs === undefined ? [] : config(ConfigResourceType.Topic, t.name, { ...configs });
    records.push(...configRecords);
    for (const p of t.partitions) {
      records.push({
        type: RecordType.Partition,
        version: 0,
        topicId,
        partitionId: p.id,
        replicas: p.replicas,
        isr: p.isr,
        leader: p.leader,
        leaderEpoch: p.leaderEpoch,
        partitionEpoch: p.partitionEpoch,
        leaderRecoveryState: p.leaderRecoveryState,
      } satisfies PartitionRecord);
    }
    add(records, { topics: 1, partitions: t.partitions.length, configs: configRecords.length });
  }
  for (const o of layout.offsets) {
    add(
      [
        {
          type: RecordType.OffsetCommit,
          version: 0,
          groupId: o.group,
          topic: o.topic,
          partition: o.partition,
          offset: o.offset,
          metadata: '',
          commitTimestampMs: o.mtime,
        } satisfies OffsetCommitRecord,
      ],
      { offsets: 1 },
    );
  }
  cut();
  // Even an empty layout writes one batch: the state that says "migrated from <source>".
  if (batches.length === 0) batches.push({ records: [], counts: { ...counts } });

  const digest = createHash('sha256');
  digest.update(`${clusterId}\0${layout.controllerEpoch}\0`);
  const byType: Record<string, number> = {};
  let recordsTotal = 0;
  for (const b of batches) {
    for (const r of b.records) {
      digest.update(JSON.stringify(r));
      byType[TYPE_NAMES[r.type]!] = (byType[TYPE_NAMES[r.type]!] ?? 0) + 1;
    }
    recordsTotal += b.records.length;
  }
  return {
    migrationId: `${digest.digest('base64url').slice(0, 22)}-${max}`,
    source: layout.source,
    clusterId,
    zkControllerEpoch: layout.controllerEpoch,
    batches: batches.map((b, i) => ({ sequence: i + 1, records: b.records, counts: b.counts })),
    recordsTotal,
    byType,
    counts: { ...counts },
    newTopicIds,
    topicIds,
  };
}
