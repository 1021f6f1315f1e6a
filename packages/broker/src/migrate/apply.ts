/**
 * Writing a plan: online, batch by batch through the active controller of a running cluster (resuming
 * where the metadata says the last run stopped), or offline, as the initial metadata snapshot of a
 * fresh data dir.
 */
import { join } from 'node:path';
import type { MigrationStatus, Rpc } from '@kbroker/client';
import {
  bootstrapRecords,
  MetadataDelta,
  MetadataImage,
  type MetadataRecord,
  type MigrationStateRecord,
  RecordType,
  writeSnapshot,
} from '@kbroker/metadata-log';
import { formatDataDir, LevelStorage, parseQuorum } from '@kbroker/raft';
import { contentOf, type MigrationPlan } from './plan.js';

export class MigrationError extends Error {
  override readonly name = 'MigrationError';
}

export interface RunProgress {
  readonly batchesDone: number;
  readonly batchesTotal: number;
  readonly recordsDone: number;
  readonly recordsTotal: number;
  /** Partitions written so far. */
  readonly partitions: number;
}

export interface RunResult {
  /** Batches this run wrote (a resumed run skips those already applied). */
  readonly batchesWritten: number;
  /** The batch the run started from (1 for a fresh migration). */
  readonly resumedAt: number;
  readonly recordsWritten: number;
  readonly alreadyMigrated: boolean;
  readonly state: MigrationStatus | null;
}

/** The cluster's migration state and cluster id. */
export async function migrationStatus(
  rpc: Rpc,
): Promise<{ state: MigrationStatus | null; clusterId: string }> {
  const r = await rpc.request('migrationStatus', {});
  return { state: r.state, clusterId: r.clusterId };
}

/** Refuses (MigrationError) when the target cannot take this plan; returns the batch to start from. */
export function resumePoint(
  plan: MigrationPlan,
  target: { state: MigrationStatus | null; clusterId: string },
): number {
  if (target.clusterId !== plan.clusterId) {
    throw new MigrationError(
      `the target cluster's id is ${target.clusterId}, the source's is ${plan.clusterId}: format the kbroker nodes with --cluster-id ${plan.clusterId}`,
    );
  }
  const s = target.state;
  if (s === null) return 1;
  const sameContent = contentOf(s.migrationId) === contentOf(plan.migrationId);
  // The same records, migrated already (with whatever batch size): nothing left to do.
  if (sameContent && s.phase === 'migrated') return plan.batches.length + 1;
  if (sameContent && s.migrationId !== plan.migrationId) {
    const size = s.migrationId.slice(s.migrationId.lastIndexOf('-') + 1);
    throw new MigrationError(
      `the interrupted run used --batch-records ${size}; resume it with the same batch size`,
    );
  }
  if (s.migrationId !== plan.migrationId) {
    throw new MigrationError(
      s.phase === 'migrated'
        ? `the target was already migrated from ${s.source} (migration ${s.migrationId}, a different source state)`
        : `another migration (${s.migrationId}, from ${s.source}) is in progress at batch ${s.batchesDone} of ${s.batchesTotal}, and the source changed since; restore the source to that state or start from a fresh cluster`,
    );
  }
  return s.batchesDone + 1;
}

/**
 * Writes the plan's batches from where the target's migration state says to. Each batch is idempotent
 * (the controller skips one already applied), so a retry after an unknown outcome is safe.
 */
export async function runOnline(
  plan: MigrationPlan,
  rpc: Rpc,
  options: {
    onProgress?: (p: RunProgress) => void;
    timeoutMs?: number;
    /** Batches in flight. Default 4. */
    window?: number;
    /** Consecutive failures survived (re-reading the state each time). Default 5. */
    retries?: number;
  } = {},
): Promise<RunResult> {
  const start = resumePoint(plan, await migrationStatus(rpc));
  const total = plan.batches.length;
  const partitionsBefore = (seq: number) => plan.batches[seq - 2]?.counts.partitions ?? 0;
  let recordsDone = plan.batches.slice(0, start - 1).reduce((n, b) => n + b.records.length, 0);
  let state: MigrationStatus | null = null;
  let written = 0;
  let recordsWritten = 0;
  options.onProgress?.({
    batchesDone: start - 1,
    batchesTotal: total,
    recordsDone,
    recordsTotal: plan.recordsTotal,
    partitions: partitionsBefore(start),
  });
  const send = (seq: number) => {
    const b = plan.batches[seq - 1]!;
    return rpc.request(
      'migrateBatch',
      {
        migrationId: plan.migrationId,
        source: plan.source,
        clusterId: plan.clusterId,
        sequence: seq,
        batchesTotal: total,
        recordsTotal: plan.recordsTotal,
        counts: b.counts,
        zkControllerEpoch: plan.zkControllerEpoch,
        records: b.records as unknown as Readonly<Record<string, unknown>>[],
      },
      options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs },
    );
  };
  // Up to `window` batches in flight, in sequence order (the controller queues them in arrival order).
  // Any failure (a controller failover, a timeout) drains the window, asks the metadata where the
  // migration stands, and goes on from there: batches already applied are never sent again.
  const window = Math.max(1, options.window ?? 4);
  let next = start;
  let failures = 0;
  while (next <= total) {
    const inFlight: { seq: number; res: Promise<Awaited<ReturnType<typeof send>>> }[] = [];
    let failed: unknown;
    while ((next <= total || inFlight.length > 0) && failed === undefined) {
      while (next <= total && inFlight.length < window) {
        const res = send(next);
        res.catch(() => undefined);
        inFlight.push({ seq: next, res });
        next++;
      }
      const head = inFlight.shift()!;
      try {
        const res = await head.res;
        const b = plan.batches[head.seq - 1]!;
        state = res.state;
        recordsDone += b.records.length;
        if (res.applied) {
          written++;
          recordsWritten += b.records.length;
        }
        failures = 0;
        options.onProgress?.({
          batchesDone: head.seq,
          batchesTotal: total,
          recordsDone,
          recordsTotal: plan.recordsTotal,
          partitions: b.counts.partitions ?? 0,
        });
      } catch (err) {
        failed = err;
      }
    }
    if (failed === undefined) break;
    await Promise.allSettled(inFlight.map((f) => f.res));
    if (++failures > (options.retries ?? 5)) throw failed;
    const now = await migrationStatus(rpc);
    const resume = resumePoint(plan, now);
    // Count what the drained window applied, so the totals stay exact.
    const doneBefore = plan.batches.slice(0, resume - 1).reduce((n, b) => n + b.records.length, 0);
    written += Math.max(0, resume - 1 - recordsDoneBatches(plan, recordsDone));
    recordsWritten += Math.max(0, doneBefore - recordsDone);
    recordsDone = doneBefore;
    state = now.state;
    next = resume;
  }
  if (start > total) state = (await migrationStatus(rpc)).state;
  return { batchesWritten: written, resumedAt: start, recordsWritten, alreadyMigrated: start > total, state };
}

/** How many whole batches `records` records are, from the start of the plan. */
function recordsDoneBatches(plan: MigrationPlan, records: number): number {
  let n = 0;
  let seq = 0;
  while (seq < plan.batches.length && n + plan.batches[seq]!.records.length <= records) {
    n += plan.batches[seq]!.records.length;
    seq++;
  }
  return seq;
}

/** The migration state record of batch `seq` (as the controller would write it). */
function stateRecord(
  plan: MigrationPlan,
  seq: number,
  recordsDone: number,
  startedTimeMs: number,
): MigrationStateRecord {
  const total = plan.batches.length;
  return {
    type: RecordType.MigrationState,
    version: 0,
    migrationId: plan.migrationId,
    source: plan.source,
    phase: seq === total ? 'migrated' : 'in-progress',
    batchesDone: seq,
    batchesTotal: total,
    recordsDone,
    recordsTotal: plan.recordsTotal,
    counts: { ...plan.batches[seq - 1]!.counts },
    zkControllerEpoch: plan.zkControllerEpoch,
    startedTimeMs,
  };
}

/**
 * The image a fresh cluster starts with: the bootstrap records its first controller would write
 * (cluster id, metadata.version), then every batch with its migration state, each batch one offset.
 * Pure: the same plan and time give the same image (every node bootstrapped from it agrees).
 */
export function migratedImage(plan: MigrationPlan, timestampMs: number): MetadataImage {
  const delta = new MetadataDelta(MetadataImage.EMPTY);
  delta.replayBatch(
    { timestampMs, records: bootstrapRecords(plan.clusterId, new Map([['metadata.version', 1]])) },
    1,
    1,
  );
  let recordsDone = 0;
  for (const b of plan.batches) {
    recordsDone += b.records.length;
    const records: MetadataRecord[] = [...b.records, stateRecord(plan, b.sequence, recordsDone, timestampMs)];
    delta.replayBatch({ timestampMs, records }, b.sequence + 1, 1);
  }
  return delta.apply();
}

export interface OfflineResult {
  readonly dataDir: string;
  readonly snapshotIndex: number;
  readonly snapshotBytes: number;
  readonly formatted: boolean;
}

/**
 * Bootstraps a fresh node's data dir: formats it with the source's cluster id (refusing a dir of
 * another cluster or node) and writes the migrated image as its initial snapshot at term 1, so the node
 * starts with the metadata. Refuses a dir that already holds a log or a snapshot. Run it for every
 * controller of the new cluster with the same source (the snapshot is the same bytes on each).
 */
export async function bootstrapDataDir(
  plan: MigrationPlan,
  opts: { dataDir: string; nodeId: number; controllerQuorum: string; timestampMs: number },
): Promise<OfflineResult> {
  const voters = parseQuorum(opts.controllerQuorum);
  if (!voters.some((v) => v.id === opts.nodeId)) {
    throw new MigrationError(`node ${opts.nodeId} is not in the controller quorum ${opts.controllerQuorum}`);
  }
  const image = migratedImage(plan, opts.timestampMs);
  const identity = await formatDataDir(opts.dataDir, { clusterId: plan.clusterId, nodeId: opts.nodeId });
  const storage = await LevelStorage.open(join(opts.dataDir, 'raft'));
  try {
    const latest = await storage.latest();
    const entries = await storage.loadEntries();
    const hard = await storage.loadHardState();
    if (latest !== undefined || entries.length > 0 || hard.term > 0) {
      throw new MigrationError(
        `data dir ${opts.dataDir} is not fresh (it holds a Raft log or snapshot): an offline bootstrap needs a node that never started`,
      );
    }
    const index = image.provenance.offset;
    const meta = { index, term: 1, membership: { voters } };
    const sink = storage.create(meta);
    let bytes = 0;
    try {
      for (const chunk of writeSnapshot(image)) {
        bytes += chunk.length;
        await sink.write(chunk);
      }
      await sink.commit();
    } catch (err) {
      await sink.abort();
      throw err;
    }
    await storage.persist({ entries: [], hardState: { term: 1, vote: 0, commit: index }, snapshot: meta });
    return {
      dataDir: opts.dataDir,
      snapshotIndex: index,
      snapshotBytes: bytes,
      formatted: identity.formattedAt !== '',
    };
  } finally {
    await storage.close();
  }
}
