/**
 * The metadata records: everything Kafka once kept in ZooKeeper, as typed, versioned records in one
 * replicated log (modelled on Kafka's KRaft records; our encoding is msgpackr).
 *
 * One Raft entry holds one {@link RecordBatch}: the records of one controller operation, applied
 * atomically. A record's offset is the Raft index of its batch; the broker epoch of a registration is
 * that offset, as in KRaft.
 */
import { Packr } from 'msgpackr';

export const RecordType = {
  Cluster: 1,
  FeatureLevel: 2,
  RegisterBroker: 3,
  BrokerRegistrationChange: 4,
  UnregisterBroker: 5,
  Topic: 6,
  Partition: 7,
  PartitionChange: 8,
  RemoveTopic: 9,
  Config: 10,
  OffsetCommit: 11,
  OffsetDelete: 12,
  NoOp: 13,
  RegisterController: 14,
  ZkSession: 15,
  ZkSessionEnd: 16,
  // 17: reserved.
  MigrationState: 18,
} as const;
export type RecordType = (typeof RecordType)[keyof typeof RecordType];

/** The newest version of each record type this build reads and writes. */
export const RECORD_VERSIONS: Readonly<Record<RecordType, number>> = {
  1: 0,
  2: 0,
  3: 0,
  4: 0,
  5: 0,
  6: 0,
  7: 0,
  8: 0,
  9: 0,
  10: 0,
  11: 0,
  12: 0,
  13: 0,
  14: 0,
  15: 0,
  16: 0,
  18: 0,
};

/** `-1`: no leader. */
export const NO_LEADER = -1;
/** In a PartitionChangeRecord: the leader is unchanged. */
export const LEADER_UNCHANGED = -2;

export const LeaderRecoveryState = { Recovered: 0, Recovering: 1 } as const;
export type LeaderRecoveryState = (typeof LeaderRecoveryState)[keyof typeof LeaderRecoveryState];

/** Kafka's ConfigResource types (int8 codes). A BROKER config named "" is the cluster-wide default. */
export const ConfigResourceType = { Topic: 2, Broker: 4 } as const;
export type ConfigResourceType = (typeof ConfigResourceType)[keyof typeof ConfigResourceType];

export interface Endpoint {
  /** Listener name, e.g. `CLIENT`, `PLAINTEXT`. */
  readonly name: string;
  readonly host: string;
  readonly port: number;
  /** `PLAINTEXT`, `SSL`, `SASL_PLAINTEXT`, `SASL_SSL`. */
  readonly securityProtocol: string;
}

export interface ClusterRecord {
  readonly type: typeof RecordType.Cluster;
  readonly version: 0;
  readonly clusterId: string;
}

/** A feature's finalized level (`metadata.version` and others); level 0 removes it. */
export interface FeatureLevelRecord {
  readonly type: typeof RecordType.FeatureLevel;
  readonly version: 0;
  readonly name: string;
  readonly level: number;
}

/** A broker (re)registers. It starts fenced; its epoch is this record's offset. */
export interface RegisterBrokerRecord {
  readonly type: typeof RecordType.RegisterBroker;
  readonly version: 0;
  readonly brokerId: number;
  /** A random id per broker process start; a second live incarnation of one id is refused. */
  readonly incarnationId: string;
  readonly endpoints: readonly Endpoint[];
  readonly rack: string | null;
  readonly fenced: boolean;
  readonly inControlledShutdown: boolean;
}

/** Fence (1) / unfence (-1) / no change (0); entering controlled shutdown (1) / no change (0). */
export interface BrokerRegistrationChangeRecord {
  readonly type: typeof RecordType.BrokerRegistrationChange;
  readonly version: 0;
  readonly brokerId: number;
  readonly brokerEpoch: number;
  readonly fenced: -1 | 0 | 1;
  readonly inControlledShutdown: 0 | 1;
}

export interface UnregisterBrokerRecord {
  readonly type: typeof RecordType.UnregisterBroker;
  readonly version: 0;
  readonly brokerId: number;
  readonly brokerEpoch: number;
}

export interface TopicRecord {
  readonly type: typeof RecordType.Topic;
  readonly version: 0;
  readonly name: string;
  /** Kafka's Uuid as 22-character base64url. */
  readonly topicId: string;
}

export interface PartitionRecord {
  readonly type: typeof RecordType.Partition;
  readonly version: 0;
  readonly topicId: string;
  readonly partitionId: number;
  /** In preferred order: replicas[0] is the preferred leader. */
  readonly replicas: readonly number[];
  readonly isr: readonly number[];
  /** NO_LEADER (-1) when none. */
  readonly leader: number;
  readonly leaderEpoch: number;
  readonly partitionEpoch: number;
  readonly leaderRecoveryState: LeaderRecoveryState;
}

/**
 * A change to one partition. Absent fields are unchanged; `leader` LEADER_UNCHANGED (-2) is unchanged.
 * Replaying it bumps partitionEpoch always, and leaderEpoch whenever `leader` is not -2 (as KRaft).
 */
export interface PartitionChangeRecord {
  readonly type: typeof RecordType.PartitionChange;
  readonly version: 0;
  readonly topicId: string;
  readonly partitionId: number;
  readonly leader: number;
  readonly isr?: readonly number[];
  readonly replicas?: readonly number[];
  readonly leaderRecoveryState?: LeaderRecoveryState;
}

/** Removes a topic and all its partitions (and its configs). */
export interface RemoveTopicRecord {
  readonly type: typeof RecordType.RemoveTopic;
  readonly version: 0;
  readonly topicId: string;
}

/** Sets a config; `value` null deletes it. */
export interface ConfigRecord {
  readonly type: typeof RecordType.Config;
  readonly version: 0;
  readonly resourceType: ConfigResourceType;
  /** Topic name, broker id as a string, or "" for the cluster-wide broker default. */
  readonly resourceName: string;
  readonly name: string;
  readonly value: string | null;
}

export interface OffsetCommitRecord {
  readonly type: typeof RecordType.OffsetCommit;
  readonly version: 0;
  readonly groupId: string;
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly metadata: string;
  readonly commitTimestampMs: number;
}

/** Deletes a group's committed offsets: all of them, or one topic's, or one partition's. */
export interface OffsetDeleteRecord {
  readonly type: typeof RecordType.OffsetDelete;
  readonly version: 0;
  readonly groupId: string;
  readonly topic?: string;
  readonly partition?: number;
}

/** Written by an idle controller so the committed offset keeps moving (KRaft's NoOpRecord). */
export interface NoOpRecord {
  readonly type: typeof RecordType.NoOp;
  readonly version: 0;
}

/**
 * A controller announces the client endpoint it serves controller requests on, so brokers (and
 * clients) can reach the active controller (KRaft's RegisterControllerRecord). The latest wins.
 */
export interface RegisterControllerRecord {
  readonly type: typeof RecordType.RegisterController;
  readonly version: 0;
  readonly controllerId: number;
  readonly endpoints: readonly Endpoint[];
}

/**
 * A ZooKeeper session of the ZooKeeper-compatible view, created or taken over by a broker. Sessions
 * belong to the cluster (as in a ZooKeeper ensemble, where the leader logs createSession): a client
 * that reconnects to another broker keeps its session, and that broker becomes its owner. Liveness is
 * not logged: the active controller expires a session its owner stopped reporting (ZkSessionEnd).
 */
export interface ZkSessionRecord {
  readonly type: typeof RecordType.ZkSession;
  readonly version: 0;
  /** The 64-bit session id as 16 lower-case hex digits (a JS number cannot hold every id). */
  readonly sessionId: string;
  /** The 16-byte password a client presents to reattach, as 32 hex digits. */
  readonly password: string;
  /** The negotiated session timeout. */
  readonly timeoutMs: number;
  /** The node whose ZooKeeper listener serves the session's connection. */
  readonly ownerId: number;
}

export interface ZkSessionEndRecord {
  readonly type: typeof RecordType.ZkSessionEnd;
  readonly version: 0;
  readonly sessionId: string;
  /** `expired`: its owner stopped reporting it for a timeout; `closed`: the client closed it. */
  readonly reason: 'expired' | 'closed';
}

/** Where a ZooKeeper migration stands (`kbroker migrate`). */
export type MigrationPhase = 'in-progress' | 'migrated';

/**
 * The progress of a migration from a ZooKeeper layout, written in the same batch as the records it
 * migrates, so a batch and the progress it reports are applied atomically. The latest wins.
 */
export interface MigrationStateRecord {
  readonly type: typeof RecordType.MigrationState;
  readonly version: 0;
  /** Identifies the plan (a digest of the batches): a resumed run must carry the same id. */
  readonly migrationId: string;
  /** The source, for people: `zookeeper 127.0.0.1:2181/kafka` or `dump tree.json`. */
  readonly source: string;
  readonly phase: MigrationPhase;
  /** Batches applied so far (the sequence number of the last one) and in the plan. */
  readonly batchesDone: number;
  readonly batchesTotal: number;
  readonly recordsDone: number;
  readonly recordsTotal: number;
  /** Migrated so far, by kind (topics, partitions, configs, offsets, features). */
  readonly counts: Readonly<Record<string, number>>;
  /**
   * The source's `/controller_epoch`: the ZooKeeper-compatible view shows the quorum's epoch plus this,
   * so the epoch Kafka's tools see only moves forward across the migration.
   */
  readonly zkControllerEpoch: number;
  /** When the first batch was written (ms since the epoch). */
  readonly startedTimeMs: number;
}

export type MetadataRecord =
  | ClusterRecord
  | FeatureLevelRecord
  | RegisterBrokerRecord
  | BrokerRegistrationChangeRecord
  | UnregisterBrokerRecord
  | TopicRecord
  | PartitionRecord
  | PartitionChangeRecord
  | RemoveTopicRecord
  | ConfigRecord
  | OffsetCommitRecord
  | OffsetDeleteRecord
  | NoOpRecord
  | RegisterControllerRecord
  | ZkSessionRecord
  | ZkSessionEndRecord
  | MigrationStateRecord;

/** The records of one controller operation: one Raft entry, applied atomically. */
export interface RecordBatch {
  /** When the controller wrote the batch (ms since the epoch); the time of every record in it. */
  readonly timestampMs: number;
  readonly records: readonly MetadataRecord[];
}

/** The batch envelope's own format version. */
export const BATCH_FORMAT_VERSION = 1;

export class UnsupportedRecordError extends Error {
  override readonly name = 'UnsupportedRecordError';
  readonly code = 'UNSUPPORTED_RECORD';
  constructor(
    readonly recordType: number,
    readonly recordVersion: number,
    detail: string,
  ) {
    super(detail);
  }
}

export class MalformedRecordBatchError extends Error {
  override readonly name = 'MalformedRecordBatchError';
  readonly code = 'MALFORMED_RECORD_BATCH';
}

/**
 * Batches are written with msgpackr's record structures: a batch's records of one shape share a key
 * list written once per batch, which makes a batch of offset commits a third of the bytes and decode
 * five times faster than plain maps. The structures are defined inside each batch (no state carries
 * from one batch to the next), and every msgpackr decoder reads them whatever its own `useRecords`
 * setting, so builds that wrote plain maps read these batches and the reverse.
 */
const packr = new Packr({ useRecords: true, mapsAsObjects: true });

export function encodeBatch(batch: RecordBatch): Uint8Array {
  return packr.pack({ v: BATCH_FORMAT_VERSION, ts: batch.timestampMs, r: batch.records });
}

/**
 * Decodes a batch, refusing a newer envelope, an unknown record type or a record version newer than
 * this build understands (naming both), so a node never silently skips metadata it cannot read.
 */
export function decodeBatch(bytes: Uint8Array): RecordBatch {
  let raw: unknown;
  try {
    raw = packr.unpack(bytes);
  } catch (err) {
    throw new MalformedRecordBatchError(`undecodable record batch: ${(err as Error).message}`);
  }
  if (typeof raw !== 'object' || raw === null)
    throw new MalformedRecordBatchError('record batch is not a map');
  const { v, ts, r } = raw as { v?: unknown; ts?: unknown; r?: unknown };
  if (typeof v !== 'number' || v > BATCH_FORMAT_VERSION) {
    throw new MalformedRecordBatchError(
      `record batch format ${String(v)} is newer than this build understands (${BATCH_FORMAT_VERSION})`,
    );
  }
  if (typeof ts !== 'number' || !Array.isArray(r))
    throw new MalformedRecordBatchError('record batch lacks ts or records');
  for (const rec of r as { type?: unknown; version?: unknown }[]) checkRecordHeader(rec);
  return { timestampMs: ts, records: r as MetadataRecord[] };
}

export function checkRecordHeader(rec: { type?: unknown; version?: unknown }): void {
  const type = rec?.type;
  const version = rec?.version;
  if (typeof type !== 'number' || typeof version !== 'number') {
    throw new MalformedRecordBatchError('record without a numeric type and version');
  }
  const known = RECORD_VERSIONS[type as RecordType];
  if (known === undefined) {
    throw new UnsupportedRecordError(
      type,
      version,
      `unknown metadata record type ${type} (version ${version})`,
    );
  }
  if (version > known) {
    throw new UnsupportedRecordError(
      type,
      version,
      `metadata record type ${type} version ${version} is newer than this build understands (${known})`,
    );
  }
}
