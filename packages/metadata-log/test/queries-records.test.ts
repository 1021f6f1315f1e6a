import { Packr, pack } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import * as h from '../src/controller/handlers.js';
import {
  describeCluster,
  describeQuorum,
  describeTopics,
  fetchOffsets,
  listGroups,
  listTopics,
} from '../src/queries.js';
import {
  decodeBatch,
  encodeBatch,
  MalformedRecordBatchError,
  RecordType,
  UnsupportedRecordError,
} from '../src/records.js';
import { Harness, seeded } from './helpers/harness.js';

describe('record batches', () => {
  it('round-trip', () => {
    const batch = { timestampMs: 5, records: [{ type: RecordType.NoOp, version: 0 } as const] };
    expect(decodeBatch(encodeBatch(batch))).toEqual(batch);
  });

  it('are self-contained: plain-map decoders read them, and plain-map batches still decode', () => {
    const commit = (partition: number) =>
      ({
        type: RecordType.OffsetCommit,
        version: 0,
        groupId: 'g',
        topic: 't',
        partition,
        offset: 10 + partition,
        metadata: '',
        commitTimestampMs: 7,
      }) as const;
    const batch = {
      timestampMs: 7,
      records: [commit(0), commit(1), { type: RecordType.NoOp, version: 0 } as const],
    };
    const bytes = encodeBatch(batch);
    // A build that wrote plain maps (and decodes with useRecords off) reads this batch, alone.
    const oldBuild = new Packr({ useRecords: false, mapsAsObjects: true });
    expect(oldBuild.unpack(bytes)).toEqual({ v: 1, ts: 7, r: batch.records });
    // And batches such a build wrote still decode here.
    expect(decodeBatch(oldBuild.pack({ v: 1, ts: 7, r: batch.records }))).toEqual(batch);
    // Shared keys are written once: a record structure, not a map per record.
    expect(bytes.length).toBeLessThan(oldBuild.pack({ v: 1, ts: 7, r: batch.records }).length * 0.75);
  });

  it('refuse an unknown record type or a newer version, naming both', () => {
    const unknown = pack({ v: 1, ts: 1, r: [{ type: 99, version: 0 }] });
    expect(() => decodeBatch(unknown)).toThrow(UnsupportedRecordError);
    expect(() => decodeBatch(unknown)).toThrow(/type 99 \(version 0\)/);
    const newer = pack({ v: 1, ts: 1, r: [{ type: RecordType.Topic, version: 7, name: 'x', topicId: 'y' }] });
    expect(() => decodeBatch(newer)).toThrow(/type 6 version 7 is newer than this build understands \(0\)/);
  });

  it('refuse a newer envelope and garbage', () => {
    expect(() => decodeBatch(pack({ v: 2, ts: 1, r: [] }))).toThrow(/format 2 is newer/);
    expect(() => decodeBatch(new Uint8Array([0xc1]))).toThrow(MalformedRecordBatchError);
    expect(() => decodeBatch(pack([1, 2]))).toThrow(MalformedRecordBatchError);
  });
});

describe('queries', () => {
  function populated(): Harness {
    const t = new Harness();
    t.apply(h.bootstrapRecords('cid', new Map()));
    t.brokers([2, 1], 2);
    t.run(
      h.createTopics(
        t.image,
        [
          { name: 'b', numPartitions: 2, replicationFactor: 2 },
          { name: 'a', numPartitions: 1, replicationFactor: 1 },
        ],
        {
          validateOnly: false,
          defaults: { numPartitions: 1, replicationFactor: 1 },
          random: seeded(3),
        },
      ),
    );
    t.run(
      h.commitOffsets(
        t.image,
        'g2',
        [
          { topic: 'b', partition: 1, offset: 7, metadata: 'm' },
          { topic: 'a', partition: 0, offset: 3 },
        ],
        42,
      ),
    );
    t.run(h.commitOffsets(t.image, 'g1', [{ topic: 'b', partition: 0, offset: 1 }], 43));
    return t;
  }

  it('describe the cluster, topics, offsets and groups in a stable order', () => {
    const img = populated().image;
    const cluster = describeCluster(img, 3);
    expect(cluster).toMatchObject({ clusterId: 'cid', controllerId: 3 });
    expect(cluster.brokers.map((b) => b.id)).toEqual([1, 2]);
    expect(describeCluster(img, 0).controllerId).toBe(-1);
    expect(listTopics(img).map((t) => [t.name, t.partitions])).toEqual([
      ['a', 1],
      ['b', 2],
    ]);
    const [b, missing] = describeTopics(img, ['b', 'zz']);
    expect(b!.partitions).toHaveLength(2);
    expect(b!.partitions[0]!.isr).toEqual(b!.partitions[0]!.replicas);
    expect(missing!.error).toBe('UNKNOWN_TOPIC_OR_PARTITION');
    expect(fetchOffsets(img, 'g2')).toEqual([
      { topic: 'a', partition: 0, offset: 3, metadata: '', commitTimestampMs: 42 },
      { topic: 'b', partition: 1, offset: 7, metadata: 'm', commitTimestampMs: 42 },
    ]);
    expect(fetchOffsets(img, 'g2', ['b'])).toHaveLength(1);
    expect(fetchOffsets(img, 'nobody')).toEqual([]);
    expect(listGroups(img)).toEqual([
      { groupId: 'g1', partitions: 1 },
      { groupId: 'g2', partitions: 2 },
    ]);
  });

  it('describes the quorum as kafka-metadata-quorum does, on the leader only', () => {
    const status = {
      nodeId: 1,
      role: 'leader',
      term: 7,
      leaderId: 1,
      commitIndex: 99,
      lastIndex: 100,
      voters: [
        { id: 1, address: 'h1:9093' },
        { id: 2, address: 'h2:9093' },
        { id: 3, address: 'h3:9093' },
      ],
      replicas: [
        { id: 1, voter: true, logEndOffset: 101, lastContactMsAgo: 0, lastCaughtUpMsAgo: 0 },
        { id: 2, voter: true, logEndOffset: 101, lastContactMsAgo: 10, lastCaughtUpMsAgo: 10 },
        { id: 3, voter: true, logEndOffset: 90, lastContactMsAgo: 20, lastCaughtUpMsAgo: 500 },
        { id: 7, voter: false, logEndOffset: 60, lastContactMsAgo: 30, lastCaughtUpMsAgo: 900 },
      ],
    };
    const q = describeQuorum(status, 'cid', 10_000);
    expect(q).toMatchObject({
      clusterId: 'cid',
      leaderId: 1,
      leaderEpoch: 7,
      highWatermark: 100,
      maxFollowerLag: 11,
      maxFollowerLagTimeMs: 500,
    });
    expect(q.currentVoters.map((v) => v.id)).toEqual([1, 2, 3]);
    expect(q.currentVoters[0]!.endpoints).toEqual(['CONTROLLER://h1:9093']);
    expect(q.currentObservers).toEqual([{ id: 7 }]);
    expect(q.replicas.map((r) => [r.nodeId, r.lag, r.status])).toEqual([
      [1, 0, 'Leader'],
      [2, 0, 'Follower'],
      [3, 11, 'Follower'],
      [7, 41, 'Observer'],
    ]);
    expect(q.replicas[0]!.lastFetchTimestamp).toBe(-1);
    expect(q.replicas[2]!.lastCaughtUpTimestamp).toBe(9_500);
    expect(() => describeQuorum({ ...status, role: 'follower', leaderId: 2 }, 'cid', 0)).toThrow(
      expect.objectContaining({ code: 'NOT_CONTROLLER', leaderId: 2 }),
    );
  });
});
