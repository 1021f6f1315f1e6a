import { describe, expect, it } from 'vitest';
import { diffImages, MetadataDelta, MetadataImage } from '../src/image/metadata-image.js';
import type { MetadataChange } from '../src/image/types.js';
import { ConfigResourceType, LEADER_UNCHANGED, type MetadataRecord, RecordType } from '../src/records.js';

const T1 = 'AAAAAAAAAAAAAAAAAAAAAQ';
const T2 = 'AAAAAAAAAAAAAAAAAAAAAg';

const register = (brokerId: number, fenced = true): MetadataRecord => ({
  type: RecordType.RegisterBroker,
  version: 0,
  brokerId,
  incarnationId: `inc-${brokerId}`,
  endpoints: [],
  rack: null,
  fenced,
  inControlledShutdown: false,
});
const brokerChange = (
  brokerId: number,
  fenced: -1 | 0 | 1,
  inControlledShutdown: 0 | 1 = 0,
): MetadataRecord => ({
  type: RecordType.BrokerRegistrationChange,
  version: 0,
  brokerId,
  brokerEpoch: 1,
  fenced,
  inControlledShutdown,
});
const topic = (name: string, topicId: string): MetadataRecord => ({
  type: RecordType.Topic,
  version: 0,
  name,
  topicId,
});
const partition = (topicId: string, partitionId: number): MetadataRecord => ({
  type: RecordType.Partition,
  version: 0,
  topicId,
  partitionId,
  replicas: [1, 2],
  isr: [1, 2],
  leader: 1,
  leaderEpoch: 0,
  partitionEpoch: 0,
  leaderRecoveryState: 0,
});

/** Replays one batch at the next offset and returns the image and its changes. */
function step(image: MetadataImage, records: MetadataRecord[]): [MetadataImage, MetadataChange[]] {
  const d = new MetadataDelta(image);
  const offset = image.provenance.offset + 1;
  d.replayBatch({ timestampMs: offset, records }, offset, 1);
  return [d.apply(), d.changes()];
}

describe('MetadataDelta.changes', () => {
  it('reports cluster id, features and broker lifecycle', () => {
    let [img, ch] = step(MetadataImage.EMPTY, [
      { type: RecordType.Cluster, version: 0, clusterId: 'c' },
      { type: RecordType.FeatureLevel, version: 0, name: 'metadata.version', level: 3 },
      register(1),
      register(2, false),
    ]);
    expect(ch).toEqual([
      { kind: 'cluster-id', clusterId: 'c' },
      { kind: 'broker-registered', brokerId: 1, epoch: 1 },
      { kind: 'broker-registered', brokerId: 2, epoch: 1 },
      { kind: 'broker-unfenced', brokerId: 2 },
      { kind: 'feature-changed', name: 'metadata.version', level: 3 },
    ]);
    [img, ch] = step(img, [brokerChange(1, -1), brokerChange(2, 1)]);
    expect(ch).toEqual([
      { kind: 'broker-unfenced', brokerId: 1 },
      { kind: 'broker-fenced', brokerId: 2 },
    ]);
    [img, ch] = step(img, [
      brokerChange(1, 0, 1),
      { type: RecordType.FeatureLevel, version: 0, name: 'metadata.version', level: 0 },
    ]);
    expect(ch).toEqual([
      { kind: 'broker-controlled-shutdown', brokerId: 1 },
      { kind: 'feature-changed', name: 'metadata.version', level: 0 },
    ]);
    // Re-registration: a new epoch, and the new incarnation starts fenced.
    [img, ch] = step(img, [register(1)]);
    expect(ch).toEqual([
      { kind: 'broker-registered', brokerId: 1, epoch: 4 },
      { kind: 'broker-fenced', brokerId: 1 },
    ]);
    [img, ch] = step(img, [{ type: RecordType.UnregisterBroker, version: 0, brokerId: 2, brokerEpoch: 1 }]);
    expect(ch).toEqual([{ kind: 'broker-unregistered', brokerId: 2 }]);
  });

  it('reports topic creation, partition changes, additions and deletion', () => {
    let [img, ch] = step(MetadataImage.EMPTY, [topic('a', T1), partition(T1, 0), partition(T1, 1)]);
    expect(ch).toEqual([{ kind: 'topic-created', topicId: T1, name: 'a', partitions: 2 }]);
    [img, ch] = step(img, [
      { type: RecordType.PartitionChange, version: 0, topicId: T1, partitionId: 1, leader: 2, isr: [2] },
      partition(T1, 2),
    ]);
    expect(ch).toEqual([
      {
        kind: 'partition-changed',
        topicId: T1,
        name: 'a',
        partition: 1,
        leader: 2,
        previousLeader: 1,
        isr: [2],
        leaderEpoch: 1,
        partitionEpoch: 1,
      },
      { kind: 'partitions-added', topicId: T1, name: 'a', from: 2, to: 3 },
    ]);
    [img, ch] = step(img, [
      { type: RecordType.PartitionChange, version: 0, topicId: T1, partitionId: 0, leader: LEADER_UNCHANGED },
    ]);
    expect(ch).toMatchObject([
      {
        kind: 'partition-changed',
        partition: 0,
        leader: 1,
        previousLeader: 1,
        leaderEpoch: 0,
        partitionEpoch: 1,
      },
    ]);
    [img, ch] = step(img, [
      { type: RecordType.RemoveTopic, version: 0, topicId: T1 },
      topic('a', T2),
      partition(T2, 0),
    ]);
    expect(ch).toEqual([
      { kind: 'topic-deleted', topicId: T1, name: 'a' },
      { kind: 'topic-created', topicId: T2, name: 'a', partitions: 1 },
    ]);
    // Created and removed within one delta: nothing to report.
    [, ch] = step(img, [
      topic('b', T1),
      partition(T1, 0),
      { type: RecordType.RemoveTopic, version: 0, topicId: T1 },
    ]);
    expect(ch).toEqual([]);
  });

  it('reports config changes as net effects, including the removal cascade', () => {
    const cfg = (resourceName: string, name: string, value: string | null): MetadataRecord => ({
      type: RecordType.Config,
      version: 0,
      resourceType: ConfigResourceType.Topic,
      resourceName,
      name,
      value,
    });
    let [img, ch] = step(MetadataImage.EMPTY, [
      topic('a', T1),
      cfg('a', 'x', '1'),
      cfg('a', 'y', '2'),
      cfg('a', 'y', '3'),
    ]);
    expect(ch).toEqual([
      { kind: 'topic-created', topicId: T1, name: 'a', partitions: 0 },
      {
        kind: 'config-changed',
        resourceType: ConfigResourceType.Topic,
        resourceName: 'a',
        name: 'x',
        value: '1',
      },
      {
        kind: 'config-changed',
        resourceType: ConfigResourceType.Topic,
        resourceName: 'a',
        name: 'y',
        value: '3',
      },
    ]);
    [img, ch] = step(img, [cfg('a', 'x', '1'), cfg('a', 'y', null)]);
    expect(ch).toEqual([
      {
        kind: 'config-changed',
        resourceType: ConfigResourceType.Topic,
        resourceName: 'a',
        name: 'y',
        value: null,
      },
    ]);
    [, ch] = step(img, [{ type: RecordType.RemoveTopic, version: 0, topicId: T1 }]);
    expect(ch).toEqual([
      { kind: 'topic-deleted', topicId: T1, name: 'a' },
      {
        kind: 'config-changed',
        resourceType: ConfigResourceType.Topic,
        resourceName: 'a',
        name: 'x',
        value: null,
      },
    ]);
  });

  it('reports offsets committed (distinct partitions) and deleted', () => {
    const commit = (p: number): MetadataRecord => ({
      type: RecordType.OffsetCommit,
      version: 0,
      groupId: 'g',
      topic: 't',
      partition: p,
      offset: 1,
      metadata: '',
      commitTimestampMs: 0,
    });
    let [img, ch] = step(MetadataImage.EMPTY, [commit(0), commit(1), commit(1)]);
    expect(ch).toEqual([
      { kind: 'offsets-committed', groupId: 'g', partitions: 2, topics: new Map([['t', [0, 1]]]) },
    ]);
    [img, ch] = step(img, [
      { type: RecordType.OffsetDelete, version: 0, groupId: 'g', topic: 't', partition: 0 },
      commit(1),
    ]);
    expect(ch).toEqual([
      { kind: 'offsets-deleted', groupId: 'g', topics: new Map([['t', [0]]]) },
      { kind: 'offsets-committed', groupId: 'g', partitions: 1, topics: new Map([['t', [1]]]) },
    ]);
    [img, ch] = step(img, [{ ...commit(0), topic: 'u' }]);
    // Only the partition the batch touched is named (and compared).
    expect(ch).toEqual([
      { kind: 'offsets-committed', groupId: 'g', partitions: 1, topics: new Map([['u', [0]]]) },
    ]);
    [, ch] = step(img, [{ type: RecordType.OffsetDelete, version: 0, groupId: 'g' }]);
    expect(ch).toEqual([
      {
        kind: 'offsets-deleted',
        groupId: 'g',
        topics: new Map([
          ['t', [1]],
          ['u', [0]],
        ]),
      },
    ]);
  });

  it('diffImages between unrelated images reports the same kinds of change', () => {
    const [a] = step(MetadataImage.EMPTY, [register(1), topic('a', T1), partition(T1, 0)]);
    const [b] = step(MetadataImage.EMPTY, [register(2), topic('b', T2), partition(T2, 0)]);
    expect(diffImages(a, b)).toEqual([
      { kind: 'broker-unregistered', brokerId: 1 },
      { kind: 'broker-registered', brokerId: 2, epoch: 1 },
      { kind: 'topic-deleted', topicId: T1, name: 'a' },
      { kind: 'topic-created', topicId: T2, name: 'b', partitions: 1 },
    ]);
    expect(diffImages(a, a)).toEqual([]);
  });
});
