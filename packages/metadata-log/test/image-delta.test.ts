import { describe, expect, it } from 'vitest';
import { MetadataReplayError } from '../src/image/errors.js';
import { MetadataDelta, MetadataImage } from '../src/image/metadata-image.js';
import {
  ConfigResourceType,
  LEADER_UNCHANGED,
  type MetadataRecord,
  type PartitionChangeRecord,
  type PartitionRecord,
  RecordType,
  type RegisterBrokerRecord,
} from '../src/records.js';

const T1 = 'AAAAAAAAAAAAAAAAAAAAAQ';
const T2 = 'AAAAAAAAAAAAAAAAAAAAAg';

const register = (brokerId: number, extra: Partial<RegisterBrokerRecord> = {}): RegisterBrokerRecord => ({
  type: RecordType.RegisterBroker,
  version: 0,
  brokerId,
  incarnationId: `inc-${brokerId}`,
  endpoints: [{ name: 'CLIENT', host: `h${brokerId}`, port: 9092, securityProtocol: 'PLAINTEXT' }],
  rack: `r${brokerId % 2}`,
  fenced: true,
  inControlledShutdown: false,
  ...extra,
});
const topic = (name: string, topicId: string): MetadataRecord => ({
  type: RecordType.Topic,
  version: 0,
  name,
  topicId,
});
const partition = (
  topicId: string,
  partitionId: number,
  replicas = [1, 2, 3],
  extra: Partial<PartitionRecord> = {},
) =>
  ({
    type: RecordType.Partition,
    version: 0,
    topicId,
    partitionId,
    replicas,
    isr: replicas,
    leader: replicas[0]!,
    leaderEpoch: 0,
    partitionEpoch: 0,
    leaderRecoveryState: 0,
    ...extra,
  }) satisfies PartitionRecord;
const change = (
  topicId: string,
  partitionId: number,
  extra: Partial<PartitionChangeRecord> = {},
): PartitionChangeRecord => ({
  type: RecordType.PartitionChange,
  version: 0,
  topicId,
  partitionId,
  leader: LEADER_UNCHANGED,
  ...extra,
});
const config = (resourceType: ConfigResourceType, resourceName: string, name: string, value: string | null) =>
  ({ type: RecordType.Config, version: 0, resourceType, resourceName, name, value }) as const;
const commit = (groupId: string, t: string, p: number, offset: number): MetadataRecord => ({
  type: RecordType.OffsetCommit,
  version: 0,
  groupId,
  topic: t,
  partition: p,
  offset,
  metadata: `m${offset}`,
  commitTimestampMs: 5,
});

/** Replays batches (each at its own offset, time = offset * 10) onto `base`, one delta per batch. */
function play(base: MetadataImage, ...batches: MetadataRecord[][]): MetadataImage {
  let image = base;
  for (const records of batches) {
    const d = new MetadataDelta(image);
    const offset = image.provenance.offset + 1;
    d.replayBatch({ timestampMs: offset * 10, records }, offset, 3);
    image = d.apply();
  }
  return image;
}

describe('MetadataDelta: cluster and features', () => {
  it('sets the cluster id and provenance; NoOp moves only the provenance', () => {
    const a = play(MetadataImage.EMPTY, [{ type: RecordType.Cluster, version: 0, clusterId: 'c1' }]);
    expect(a.cluster.clusterId).toBe('c1');
    expect(a.provenance).toEqual({ offset: 1, epoch: 3, timestampMs: 10 });
    const b = play(a, [{ type: RecordType.NoOp, version: 0 }]);
    expect(b.provenance).toEqual({ offset: 2, epoch: 3, timestampMs: 20 });
    expect(b.cluster).toBe(a.cluster);
    expect(b.topics).toBe(a.topics);
    expect(b.offsets).toBe(a.offsets);
  });

  it('feature level 0 removes the feature', () => {
    const a = play(MetadataImage.EMPTY, [
      { type: RecordType.FeatureLevel, version: 0, name: 'metadata.version', level: 7 },
      { type: RecordType.FeatureLevel, version: 0, name: 'x', level: 1 },
    ]);
    expect(a.features.level('metadata.version')).toBe(7);
    const b = play(a, [{ type: RecordType.FeatureLevel, version: 0, name: 'x', level: 0 }]);
    expect(b.features.level('x')).toBeUndefined();
    expect([...b.features.all()]).toEqual([['metadata.version', 7]]);
  });

  it('registration: epoch is the offset, re-registration replaces, changes fence and shut down', () => {
    const a = play(MetadataImage.EMPTY, [register(1)], [register(2)]);
    expect(a.cluster.broker(1)).toMatchObject({
      id: 1,
      epoch: 1,
      fenced: true,
      registeredTimeMs: 10,
      rack: 'r1',
    });
    expect(a.cluster.brokerCount).toBe(2);
    const b = play(a, [
      {
        type: RecordType.BrokerRegistrationChange,
        version: 0,
        brokerId: 1,
        brokerEpoch: 1,
        fenced: -1,
        inControlledShutdown: 0,
      },
    ]);
    expect(b.cluster.broker(1)?.fenced).toBe(false);
    expect(b.cluster.broker(2)).toBe(a.cluster.broker(2));
    const c = play(b, [
      {
        type: RecordType.BrokerRegistrationChange,
        version: 0,
        brokerId: 1,
        brokerEpoch: 99,
        fenced: 0,
        inControlledShutdown: 1,
      },
    ]);
    expect(c.cluster.broker(1)).toMatchObject({ fenced: false, inControlledShutdown: true, epoch: 1 });
    const d = play(c, [register(1, { incarnationId: 'new', fenced: true })]);
    expect(d.cluster.broker(1)).toMatchObject({
      epoch: 5,
      incarnationId: 'new',
      fenced: true,
      inControlledShutdown: false,
    });
    const e = play(d, [{ type: RecordType.UnregisterBroker, version: 0, brokerId: 1, brokerEpoch: 4 }]);
    expect(e.cluster.broker(1)).toBeUndefined();
    expect(e.cluster.brokerCount).toBe(1);
  });

  it('a change or unregistration of an unknown broker is a corrupt log', () => {
    const d = new MetadataDelta(MetadataImage.EMPTY);
    expect(() =>
      d.replay(
        {
          type: RecordType.BrokerRegistrationChange,
          version: 0,
          brokerId: 9,
          brokerEpoch: 1,
          fenced: 1,
          inControlledShutdown: 0,
        },
        4,
        1,
      ),
    ).toThrow(MetadataReplayError);
    try {
      d.replay({ type: RecordType.UnregisterBroker, version: 0, brokerId: 9, brokerEpoch: 1 }, 5, 1);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(MetadataReplayError);
      expect((err as MetadataReplayError).offset).toBe(5);
      expect((err as MetadataReplayError).record.type).toBe(RecordType.UnregisterBroker);
      expect((err as Error).message).toMatch(/offset 5.*broker 9/);
    }
  });
});

describe('MetadataDelta: topics and partitions', () => {
  const created = () =>
    play(MetadataImage.EMPTY, [topic('a', T1), partition(T1, 0), partition(T1, 1, [2, 3, 1])]);

  it('creates a topic with its partitions; stamps come from the batch', () => {
    const img = created();
    const t = img.topics.byName('a')!;
    expect(t).toBe(img.topics.byId(T1));
    expect(t).toMatchObject({ id: T1, name: 'a', createdOffset: 1, createdTimeMs: 10, assignmentVersion: 0 });
    expect(t.partitions).toHaveLength(2);
    expect(t.partitions[1]).toMatchObject({
      replicas: [2, 3, 1],
      leader: 2,
      createdOffset: 1,
      changedOffset: 1,
    });
    expect(img.topics.topicCount).toBe(1);
    expect(img.topics.partitionCount).toBe(2);
    expect(Object.isFrozen(t)).toBe(true);
    expect(t.partitions[0]!.isr).toBe(t.partitions[0]!.replicas);
  });

  it('PartitionChange: -2 keeps the leader and its epoch; any other leader bumps leaderEpoch; partitionEpoch always', () => {
    const a = created();
    const b = play(a, [change(T1, 0, { isr: [1, 2] })]);
    expect(b.topics.byId(T1)!.partitions[0]).toMatchObject({
      leader: 1,
      leaderEpoch: 0,
      partitionEpoch: 1,
      isr: [1, 2],
    });
    const c = play(b, [change(T1, 0, { leader: 1 })]);
    expect(c.topics.byId(T1)!.partitions[0]).toMatchObject({
      leader: 1,
      leaderEpoch: 1,
      partitionEpoch: 2,
      isr: [1, 2],
    });
    const d = play(c, [change(T1, 0, { leader: -1, leaderRecoveryState: 1 })]);
    expect(d.topics.byId(T1)!.partitions[0]).toMatchObject({
      leader: -1,
      leaderEpoch: 2,
      partitionEpoch: 3,
      leaderRecoveryState: 1,
      createdOffset: 1,
      changedOffset: 4,
      changedTimeMs: 40,
    });
    // The untouched partition keeps its identity; the assignment did not change (no replicas).
    expect(d.topics.byId(T1)!.partitions[1]).toBe(a.topics.byId(T1)!.partitions[1]);
    expect(d.topics.byId(T1)!.assignmentVersion).toBe(0);
  });

  it('the assignment version moves once per batch that changes replicas or adds partitions', () => {
    const a = created();
    const b = play(a, [partition(T1, 2), partition(T1, 3)]);
    expect(b.topics.byId(T1)).toMatchObject({
      assignmentVersion: 1,
      assignmentChangedOffset: 2,
      assignmentChangedTimeMs: 20,
    });
    expect(b.topics.partitionCount).toBe(4);
    const c = play(b, [change(T1, 0, { replicas: [3, 2, 1] }), change(T1, 1, { replicas: [1, 2, 3] })]);
    expect(c.topics.byId(T1)).toMatchObject({ assignmentVersion: 2, assignmentChangedOffset: 3 });
  });

  it('a Partition record for an existing partition replaces it but keeps its creation stamp', () => {
    const a = created();
    const b = play(a, [partition(T1, 0, [3, 4, 5], { leaderEpoch: 7, partitionEpoch: 9 })]);
    expect(b.topics.byId(T1)!.partitions[0]).toMatchObject({
      replicas: [3, 4, 5],
      leaderEpoch: 7,
      partitionEpoch: 9,
      createdOffset: 1,
      changedOffset: 2,
    });
    expect(b.topics.partitionCount).toBe(2);
  });

  it('RemoveTopic drops the topic, its partitions and its configs; the name can be reused', () => {
    const a = play(
      created(),
      [
        config(ConfigResourceType.Topic, 'a', 'retention.ms', '1000'),
        config(ConfigResourceType.Topic, 'b', 'x', 'y'),
      ],
      [topic('b', T2), partition(T2, 0)],
    );
    const b = play(a, [{ type: RecordType.RemoveTopic, version: 0, topicId: T1 }]);
    expect(b.topics.byId(T1)).toBeUndefined();
    expect(b.topics.byName('a')).toBeUndefined();
    expect(b.topics.partitionCount).toBe(1);
    expect(b.configs.get(ConfigResourceType.Topic, 'a')).toBeUndefined();
    expect(b.configs.get(ConfigResourceType.Topic, 'b')?.values.get('x')).toBe('y');
    expect(b.topics.byId(T2)).toBe(a.topics.byId(T2));
    const c = play(b, [topic('a', 'AAAAAAAAAAAAAAAAAAAAAw'), partition('AAAAAAAAAAAAAAAAAAAAAw', 0)]);
    expect(c.topics.byName('a')?.id).toBe('AAAAAAAAAAAAAAAAAAAAAw');
  });

  it('delete and re-create a name within one delta', () => {
    const d = new MetadataDelta(created());
    d.replay({ type: RecordType.RemoveTopic, version: 0, topicId: T1 }, 2, 20);
    d.replay(topic('a', T2), 2, 20);
    d.replay(partition(T2, 0), 2, 20);
    const img = d.apply();
    expect(img.topics.byName('a')?.id).toBe(T2);
    expect(img.topics.topicCount).toBe(1);
    expect(img.topics.partitionCount).toBe(1);
  });

  it('records naming a missing topic or partition, duplicates and gaps are corrupt', () => {
    const base = created();
    const cases: MetadataRecord[] = [
      partition(T2, 0),
      change(T2, 0),
      change(T1, 5),
      partition(T1, 3),
      { type: RecordType.RemoveTopic, version: 0, topicId: T2 },
      topic('other', T1),
      topic('a', T2),
    ];
    for (const rec of cases) {
      const d = new MetadataDelta(base);
      expect(() => d.replay(rec, 2, 20), JSON.stringify(rec)).toThrow(MetadataReplayError);
    }
  });

  it('a delta is single-use after apply and offsets never go back', () => {
    const d = new MetadataDelta(created());
    d.replay({ type: RecordType.NoOp, version: 0 }, 3, 30);
    expect(() => d.replay({ type: RecordType.NoOp, version: 0 }, 2, 30)).toThrow(MetadataReplayError);
    const img = d.apply();
    expect(d.apply()).toBe(img);
    expect(() => d.replay({ type: RecordType.NoOp, version: 0 }, 4, 40)).toThrow(/already applied/);
  });
});

describe('MetadataDelta: configs', () => {
  it('sets, bumps the version once per batch, deletes with null, drops empty resources', () => {
    const a = play(MetadataImage.EMPTY, [
      config(ConfigResourceType.Broker, '', 'log.retention.ms', '1'),
      config(ConfigResourceType.Broker, '', 'num.io.threads', '8'),
    ]);
    expect(a.configs.get(ConfigResourceType.Broker, '')).toMatchObject({
      createdOffset: 1,
      changedOffset: 1,
      version: 0,
    });
    const b = play(a, [config(ConfigResourceType.Broker, '', 'log.retention.ms', '2')]);
    const r = b.configs.get(ConfigResourceType.Broker, '')!;
    expect(Object.fromEntries(r.values)).toEqual({ 'log.retention.ms': '2', 'num.io.threads': '8' });
    expect(r).toMatchObject({ createdOffset: 1, changedOffset: 2, changedTimeMs: 20, version: 1 });
    const c = play(b, [config(ConfigResourceType.Broker, '', 'absent', null)]);
    expect(c.configs).toBe(b.configs);
    const d = play(c, [config(ConfigResourceType.Broker, '', 'log.retention.ms', null)]);
    expect([...d.configs.get(ConfigResourceType.Broker, '')!.values.keys()]).toEqual(['num.io.threads']);
    const e = play(d, [config(ConfigResourceType.Broker, '', 'num.io.threads', null)]);
    expect(e.configs.get(ConfigResourceType.Broker, '')).toBeUndefined();
    expect([...e.configs.resources(ConfigResourceType.Broker)]).toEqual([]);
    const f = play(e, [config(ConfigResourceType.Broker, '', 'x', '1')]);
    expect(f.configs.get(ConfigResourceType.Broker, '')).toMatchObject({ createdOffset: 6, version: 0 });
  });
});

describe('MetadataDelta: offsets', () => {
  it('commits upsert; version counts later commits; createdOffset is kept', () => {
    const a = play(MetadataImage.EMPTY, [commit('g', 't', 0, 10), commit('g', 't', 1, 11)]);
    expect(a.offsets.group('g')!.get('t', 0)).toMatchObject({
      offset: 10,
      metadata: 'm10',
      version: 0,
      createdOffset: 1,
    });
    expect(a.offsets.group('g')!.size).toBe(2);
    const b = play(a, [commit('g', 't', 0, 20)], [commit('g', 't', 0, 30)]);
    expect(b.offsets.group('g')!.get('t', 0)).toMatchObject({
      offset: 30,
      version: 2,
      createdOffset: 1,
      createdTimeMs: 10,
      changedOffset: 3,
      commitTimestampMs: 5,
    });
    expect(b.offsets.group('g')!.size).toBe(2);
    expect(b.offsets.groupCount).toBe(1);
    expect([...b.offsets.group('g')!.entries()].map(([t, p, c]) => [t, p, c.offset])).toEqual([
      ['t', 0, 30],
      ['t', 1, 11],
    ]);
  });

  it('deletes a partition, a topic or a whole group; deleting the absent is a no-op', () => {
    const a = play(MetadataImage.EMPTY, [
      commit('g', 't', 0, 1),
      commit('g', 't', 1, 1),
      commit('g', 'u', 0, 1),
      commit('h', 't', 0, 1),
    ]);
    const p = play(a, [
      { type: RecordType.OffsetDelete, version: 0, groupId: 'g', topic: 't', partition: 1 },
    ]);
    expect(p.offsets.group('g')!.get('t', 1)).toBeUndefined();
    expect(p.offsets.group('g')!.size).toBe(2);
    const t = play(p, [{ type: RecordType.OffsetDelete, version: 0, groupId: 'g', topic: 't' }]);
    expect(t.offsets.group('g')!.get('t', 0)).toBeUndefined();
    expect(t.offsets.group('g')!.size).toBe(1);
    const g = play(t, [{ type: RecordType.OffsetDelete, version: 0, groupId: 'g' }]);
    expect(g.offsets.group('g')).toBeUndefined();
    expect(g.offsets.group('h')).toBe(a.offsets.group('h'));
    const none = play(g, [{ type: RecordType.OffsetDelete, version: 0, groupId: 'nope', topic: 'x' }]);
    expect(none.offsets).toBe(g.offsets);
    // Re-creating after a delete starts a new history.
    const again = play(g, [commit('g', 't', 0, 5)]);
    expect(again.offsets.group('g')!.get('t', 0)).toMatchObject({ version: 0, createdOffset: 5 });
  });

  it('does not disturb the previous image (copy on write)', () => {
    const a = play(MetadataImage.EMPTY, [commit('g', 't', 0, 1)]);
    const before = a.toComparable();
    play(
      a,
      [commit('g', 't', 0, 2), commit('g', 't', 1, 2)],
      [{ type: RecordType.OffsetDelete, version: 0, groupId: 'g' }],
    );
    expect(a.toComparable()).toEqual(before);
  });
});

describe('MetadataImage equality', () => {
  it('equal records give equal images; a difference is seen', () => {
    const build = () =>
      play(
        MetadataImage.EMPTY,
        [register(1), topic('a', T1), partition(T1, 0)],
        [config(ConfigResourceType.Topic, 'a', 'k', 'v'), commit('g', 'a', 0, 1)],
      );
    const x = build();
    const y = build();
    expect(x).not.toBe(y);
    expect(x.equals(y)).toBe(true);
    expect(x.toComparable()).toEqual(y.toComparable());
    const z = play(x, [commit('g', 'a', 0, 2)]);
    expect(x.equals(z)).toBe(false);
    expect(MetadataImage.EMPTY.equals(new MetadataDelta(MetadataImage.EMPTY).apply())).toBe(true);
  });
});
