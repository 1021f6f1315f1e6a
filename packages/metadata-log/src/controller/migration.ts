/**
 * The controller side of `kbroker migrate run`: one handler applying one batch of a migration from a
 * ZooKeeper layout, idempotently.
 *
 * A batch carries the migration id (a digest of the whole plan) and its sequence number. The handler
 * returns the batch's records plus a MigrationStateRecord saying "batch n of N done", all in one Raft
 * entry, so progress and data commit together: a batch whose sequence is already recorded is answered
 * without writing anything (a retry, or a resumed run sending it again), a gap is refused, and a batch of
 * another plan is refused while one is in progress or once the cluster is migrated.
 */
import type { MetadataImageView, MigrationState } from '../image/types.js';
import { type MetadataRecord, type MigrationStateRecord, RecordType } from '../records.js';
import { replayBatch } from '../replay.js';
import { ControllerError } from './errors.js';
import type { ControllerResult } from './quorum-controller.js';
import { validateTopicName } from './topic-names.js';

/** Record types a migration batch may carry. */
const MIGRATABLE: ReadonlySet<number> = new Set([
  RecordType.Topic,
  RecordType.Partition,
  RecordType.Config,
  RecordType.OffsetCommit,
  RecordType.FeatureLevel,
]);

export interface MigrationBatchRequest {
  readonly migrationId: string;
  readonly source: string;
  /** The source's cluster id: the target must have been formatted with it. */
  readonly clusterId: string;
  /** 1-based position of this batch in the plan. */
  readonly sequence: number;
  readonly batchesTotal: number;
  readonly recordsTotal: number;
  /** Cumulative counts once this batch is applied. */
  readonly counts: Readonly<Record<string, number>>;
  readonly zkControllerEpoch: number;
  readonly records: readonly MetadataRecord[];
}

export interface MigrationBatchResponse {
  /** false: this batch was applied before (nothing written now). */
  readonly applied: boolean;
  readonly state: MigrationState | null;
}

const isInt = (v: unknown, min = 0): v is number => Number.isSafeInteger(v) && (v as number) >= min;
const isIntList = (v: unknown): boolean => Array.isArray(v) && v.every((x) => isInt(x));

function invalid(message: string): ControllerError {
  return new ControllerError('INVALID_REQUEST', message);
}

/** Field checks replay does not make (replay trusts the controller that wrote the records). */
function checkRecord(r: MetadataRecord, at: number): void {
  if (typeof r !== 'object' || r === null || !MIGRATABLE.has(r.type) || r.version !== 0) {
    throw invalid(
      `migration record ${at}: type ${String((r as { type?: unknown })?.type)} is not migratable`,
    );
  }
  switch (r.type) {
    case RecordType.Topic:
      validateTopicName(r.name);
      if (typeof r.topicId !== 'string' || !/^[A-Za-z0-9_-]{22}$/.test(r.topicId))
        throw invalid(`migration record ${at}: topic ${r.name} has an invalid id ${String(r.topicId)}`);
      return;
    case RecordType.Partition:
      if (
        !isInt(r.partitionId) ||
        !isIntList(r.replicas) ||
        r.replicas.length === 0 ||
        !isIntList(r.isr) ||
        !isInt(r.leader, -1) ||
        !isInt(r.leaderEpoch) ||
        !isInt(r.partitionEpoch) ||
        (r.leaderRecoveryState !== 0 && r.leaderRecoveryState !== 1)
      ) {
        throw invalid(`migration record ${at}: malformed partition ${r.topicId}-${String(r.partitionId)}`);
      }
      return;
    case RecordType.Config:
      if (
        (r.resourceType !== 2 && r.resourceType !== 4) ||
        typeof r.resourceName !== 'string' ||
        typeof r.name !== 'string' ||
        r.name === '' ||
        typeof r.value !== 'string'
      ) {
        throw invalid(`migration record ${at}: malformed config ${String(r.resourceName)}/${String(r.name)}`);
      }
      return;
    case RecordType.OffsetCommit:
      if (
        typeof r.groupId !== 'string' ||
        typeof r.topic !== 'string' ||
        !isInt(r.partition) ||
        !Number.isSafeInteger(r.offset) ||
        typeof r.metadata !== 'string' ||
        !Number.isSafeInteger(r.commitTimestampMs)
      ) {
        throw invalid(`migration record ${at}: malformed offset of group ${String(r.groupId)}`);
      }
      return;
    case RecordType.FeatureLevel:
      if (typeof r.name !== 'string' || r.name === '' || !isInt(r.level, 1))
        throw invalid(`migration record ${at}: malformed feature level ${String(r.name)}`);
      return;
    default:
      throw invalid(`migration record ${at}: not migratable`);
  }
}

export function migrateBatch(
  image: MetadataImageView,
  req: MigrationBatchRequest,
  nowMs: number,
): ControllerResult<MigrationBatchResponse> {
  const clusterId = image.cluster.clusterId;
  if (clusterId !== req.clusterId) {
    throw new ControllerError(
      'INCONSISTENT_CLUSTER_ID',
      `the source's cluster id is ${req.clusterId} but this cluster's is ${clusterId || '(not bootstrapped)'}: format the kbroker nodes with --cluster-id ${req.clusterId}`,
    );
  }
  if (
    typeof req.migrationId !== 'string' ||
    req.migrationId === '' ||
    !isInt(req.sequence, 1) ||
    !isInt(req.batchesTotal, 1) ||
    req.sequence > req.batchesTotal ||
    !isInt(req.zkControllerEpoch) ||
    !Array.isArray(req.records)
  ) {
    throw invalid('malformed migration batch');
  }
  const cur = image.migration ?? null;
  if (cur !== null && cur.migrationId !== req.migrationId) {
    throw new ControllerError(
      'INVALID_REQUEST',
      cur.phase === 'migrated'
        ? `this cluster was already migrated from ${cur.source} (migration ${cur.migrationId})`
        : `another migration (${cur.migrationId} from ${cur.source}) is in progress at batch ${cur.batchesDone} of ${cur.batchesTotal}; the source changed since it started`,
    );
  }
  const done = cur?.batchesDone ?? 0;
  if (req.sequence <= done) return { records: [], response: { applied: false, state: cur } };
  if (req.sequence !== done + 1) {
    throw invalid(`migration batch ${req.sequence} arrived before batch ${done + 1}`);
  }
  req.records.forEach(checkRecord);
  const state: MigrationStateRecord = {
    type: RecordType.MigrationState,
    version: 0,
    migrationId: req.migrationId,
    source: String(req.source),
    phase: req.sequence === req.batchesTotal ? 'migrated' : 'in-progress',
    batchesDone: req.sequence,
    batchesTotal: req.batchesTotal,
    recordsDone: (cur?.recordsDone ?? 0) + req.records.length,
    recordsTotal: req.recordsTotal,
    counts: { ...req.counts },
    zkControllerEpoch: req.zkControllerEpoch,
    startedTimeMs: cur?.startedTimeMs ?? nowMs,
  };
  const records = [...req.records, state];
  // Replay must never fail on a committed entry: try the batch on the current image first.
  try {
    replayBatch(image, { timestampMs: nowMs, records }, image.provenance.offset + 1, image.provenance.epoch);
  } catch (err) {
    throw invalid(`migration batch ${req.sequence} does not apply: ${(err as Error).message}`);
  }
  return {
    records,
    response: (committed) => ({ applied: true, state: committed.migration ?? null }),
  };
}
