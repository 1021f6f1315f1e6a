/**
 * The migration batch handler: batches apply in order with their progress in the same entry, a batch
 * seen before writes nothing, gaps and other plans are refused, and the state survives a snapshot.
 */
import { describe, expect, it } from 'vitest';
import { ControllerError } from '../src/controller/errors.js';
import { type MigrationBatchRequest, migrateBatch } from '../src/controller/migration.js';
import { type MetadataRecord, RecordType } from '../src/records.js';
import { readSnapshot, writeSnapshot } from '../src/snapshot.js';
import { Harness } from './helpers/harness.js';

const ID = 'AAAAAAAAAAAAAAAAAAAAAA';

function topic(name: string, id: string, partitions: number): MetadataRecord[] {
  const out: MetadataRecord[] = [{ type: RecordType.Topic, version: 0, name, topicId: id }];
  for (let p = 0; p < partitions; p++) {
    out.push({
      type: RecordType.Partition,
      version: 0,
      topicId: id,
      partitionId: p,
      replicas: [1, 2],
      isr: [2],
      leader: 2,
      leaderEpoch: 7,
      partitionEpoch: 11,
      leaderRecoveryState: 0,
    });
  }
  return out;
}

function batch(sequence: number, records: MetadataRecord[], over: Partial<MigrationBatchRequest> = {}) {
  return {
    migrationId: 'plan-1',
    source: 'zookeeper 127.0.0.1:2181',
    clusterId: 'cluster-A',
    sequence,
    batchesTotal: 2,
    recordsTotal: 5,
    counts: { topics: sequence },
    zkControllerEpoch: 9,
    records,
    ...over,
  };
}

function bootstrapped(): Harness {
  const t = new Harness();
  t.apply([{ type: RecordType.Cluster, version: 0, clusterId: 'cluster-A' }]);
  return t;
}

describe('migrateBatch', () => {
  it('applies batches in order with their progress, and a repeated batch writes nothing', () => {
    const t = bootstrapped();
    const first = t.run(migrateBatch(t.image, batch(1, topic('a', ID, 2)), t.nowMs));
    expect(first.applied).toBe(true);
    expect(first.state).toMatchObject({ phase: 'in-progress', batchesDone: 1, recordsDone: 3 });
    const p = t.image.topics.byName('a')!.partitions[1]!;
    expect(p).toMatchObject({ leader: 2, leaderEpoch: 7, partitionEpoch: 11, isr: [2] });

    const offset = t.image.provenance.offset;
    const again = t.run(migrateBatch(t.image, batch(1, topic('a', ID, 2)), t.nowMs));
    expect(again.applied).toBe(false);
    expect(t.image.provenance.offset).toBe(offset);

    const last = t.run(migrateBatch(t.image, batch(2, topic('b', 'BBBBBBBBBBBBBBBBBBBBBB', 1)), t.nowMs));
    expect(last.state).toMatchObject({
      phase: 'migrated',
      batchesDone: 2,
      recordsDone: 5,
      zkControllerEpoch: 9,
    });
    expect(t.image.migration?.counts).toEqual({ topics: 2 });
  });

  it('refuses a gap, another plan, another cluster id and records it cannot migrate', () => {
    const t = bootstrapped();
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (err) {
        return (err as ControllerError).code;
      }
      return 'none';
    };
    expect(code(() => migrateBatch(t.image, batch(2, []), 0))).toBe('INVALID_REQUEST');
    expect(code(() => migrateBatch(t.image, batch(1, [], { clusterId: 'other' }), 0))).toBe(
      'INCONSISTENT_CLUSTER_ID',
    );
    expect(code(() => migrateBatch(t.image, batch(1, [{ type: RecordType.NoOp, version: 0 }]), 0))).toBe(
      'INVALID_REQUEST',
    );
    // A partition of a topic that does not exist fails the trial replay, not the log.
    expect(code(() => migrateBatch(t.image, batch(1, topic('a', ID, 1).slice(1)), 0))).toBe(
      'INVALID_REQUEST',
    );
    t.run(migrateBatch(t.image, batch(1, topic('a', ID, 1)), 0));
    expect(code(() => migrateBatch(t.image, batch(2, [], { migrationId: 'plan-2' }), 0))).toBe(
      'INVALID_REQUEST',
    );
    expect(new ControllerError('INVALID_REQUEST').errorCode).toBe(42);
  });

  it('keeps the migration state across a snapshot', async () => {
    const t = bootstrapped();
    t.run(migrateBatch(t.image, batch(1, topic('a', ID, 1)), 123));
    const loaded = await readSnapshot(writeSnapshot(t.image));
    expect(loaded.migration).toEqual(t.image.migration);
    expect(loaded.equals(t.image)).toBe(true);
  });
});
