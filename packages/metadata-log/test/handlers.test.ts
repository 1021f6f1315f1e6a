/**
 * Every controller handler through a real image: the records it returns, replayed, must produce the
 * promised state; every refusal carries its Kafka error.
 */
import { describe, expect, it, vi } from 'vitest';
import { ControllerError } from '../src/controller/errors.js';
import * as h from '../src/controller/handlers.js';
import { ConfigResourceType, RecordType } from '../src/records.js';
import { Harness, seeded } from './helpers/harness.js';

const defaults = { numPartitions: 1, replicationFactor: 1 };
function create(t: Harness, topics: h.CreatableTopic[], validateOnly = false) {
  return t.run(h.createTopics(t.image, topics, { validateOnly, defaults, random: seeded(7) }));
}

describe('brokers', () => {
  it('registers a broker fenced, with its epoch = the registration offset', () => {
    const t = new Harness();
    const req = {
      brokerId: 1,
      incarnationId: 'a',
      endpoints: [{ name: 'CLIENT', host: 'h', port: 1, securityProtocol: 'PLAINTEXT' }],
      rack: 'x',
    };
    const { brokerEpoch } = t.run(h.registerBroker(t.image, req, () => false));
    expect(brokerEpoch).toBe(t.image.provenance.offset);
    expect(t.image.cluster.broker(1)).toMatchObject({
      epoch: brokerEpoch,
      fenced: true,
      rack: 'x',
      incarnationId: 'a',
    });
    // A restart (new incarnation) after the session lapsed gets a new epoch.
    const again = t.run(h.registerBroker(t.image, { ...req, incarnationId: 'b' }, () => false));
    expect(again.brokerEpoch).toBeGreaterThan(brokerEpoch);
  });

  it('refuses a second live incarnation and a registration without endpoints', () => {
    const t = new Harness();
    t.brokers([1]);
    const req = {
      brokerId: 1,
      incarnationId: 'other',
      endpoints: [{ name: 'C', host: 'h', port: 1, securityProtocol: 'PLAINTEXT' }],
      rack: null,
    };
    expect(() => h.registerBroker(t.image, req, () => true)).toThrow(
      expect.objectContaining({ code: 'DUPLICATE_BROKER_REGISTRATION' }),
    );
    expect(() => h.registerBroker(t.image, { ...req, endpoints: [] }, () => false)).toThrow(
      expect.objectContaining({ code: 'INVALID_REQUEST' }),
    );
    expect(() => h.registerBroker(t.image, { ...req, brokerId: -3 }, () => false)).toThrow(
      expect.objectContaining({ code: 'INVALID_REQUEST' }),
    );
  });

  it('fencing moves leadership within the ISR in replica order and drops the broker from every ISR', () => {
    const t = new Harness();
    t.brokers([1, 2, 3]);
    create(t, [
      {
        name: 'a',
        numPartitions: -1,
        replicationFactor: -1,
        assignments: [
          { partitionIndex: 0, brokerIds: [1, 2, 3] },
          { partitionIndex: 1, brokerIds: [2, 1, 3] },
        ],
      },
    ]);
    const before = t.image.topics.byName('a')!.partitions[0]!;
    t.apply(h.fenceBroker(t.image, 1));
    const [p0, p1] = t.image.topics.byName('a')!.partitions;
    expect(p0).toMatchObject({ leader: 2, isr: [2, 3], leaderEpoch: before.leaderEpoch + 1 });
    expect(p1).toMatchObject({ leader: 2, isr: [2, 3] });
    expect(p1!.leaderEpoch).toBe(0); // leader unchanged: only the ISR shrank
    expect(t.image.cluster.broker(1)!.fenced).toBe(true);
    expect(h.fenceBroker(t.image, 1)).toEqual([]); // already fenced
  });

  it('with no eligible replica the leader becomes -1 and the ISR keeps its last member', () => {
    const t = new Harness();
    t.brokers([1, 2]);
    create(t, [
      {
        name: 'solo',
        numPartitions: -1,
        replicationFactor: -1,
        assignments: [{ partitionIndex: 0, brokerIds: [1] }],
      },
    ]);
    t.apply(h.fenceBroker(t.image, 1));
    expect(t.image.topics.byName('solo')!.partitions[0]).toMatchObject({ leader: -1, isr: [1] });
    // Unfencing it elects it again.
    t.apply(h.unfenceBroker(t.image, 1));
    expect(t.image.topics.byName('solo')!.partitions[0]).toMatchObject({ leader: 1, isr: [1] });
  });

  it('elects an out-of-ISR replica only when unclean election is enabled for the topic', () => {
    const t = new Harness();
    t.brokers([1, 2]);
    create(t, [
      {
        name: 'clean',
        numPartitions: -1,
        replicationFactor: -1,
        assignments: [{ partitionIndex: 0, brokerIds: [1, 2] }],
      },
      {
        name: 'dirty',
        numPartitions: -1,
        replicationFactor: -1,
        assignments: [{ partitionIndex: 0, brokerIds: [1, 2] }],
        configs: { 'unclean.leader.election.enable': 'true' },
      },
    ]);
    t.apply(h.fenceBroker(t.image, 2)); // ISR [1]
    t.apply(h.fenceBroker(t.image, 1)); // no ISR member left
    t.apply(h.unfenceBroker(t.image, 2));
    expect(t.image.topics.byName('clean')!.partitions[0]).toMatchObject({ leader: -1, isr: [1] });
    expect(t.image.topics.byName('dirty')!.partitions[0]).toMatchObject({
      leader: 2,
      isr: [2],
      leaderRecoveryState: 1,
    });
  });

  it('controlled shutdown marks the broker and moves its leaderships away', () => {
    const t = new Harness();
    t.brokers([1, 2]);
    create(t, [
      {
        name: 'a',
        numPartitions: -1,
        replicationFactor: -1,
        assignments: [{ partitionIndex: 0, brokerIds: [1, 2] }],
      },
    ]);
    t.apply(h.beginControlledShutdown(t.image, 1));
    expect(t.image.cluster.broker(1)!.inControlledShutdown).toBe(true);
    expect(t.image.topics.byName('a')!.partitions[0]).toMatchObject({ leader: 2, isr: [2] });
    expect(h.leadsAnyPartition(t.image, 1)).toBe(false);
  });

  it('unregisters a broker, refusing an unknown one', () => {
    const t = new Harness();
    t.brokers([1, 2]);
    t.run(h.unregisterBroker(t.image, 2));
    expect(t.image.cluster.broker(2)).toBeUndefined();
    expect(() => h.unregisterBroker(t.image, 9)).toThrow(
      expect.objectContaining({ code: 'BROKER_ID_NOT_REGISTERED' }),
    );
  });
});

describe('topics', () => {
  it('creates a topic with a rack-aware assignment, leaders spread, and its configs', () => {
    const t = new Harness();
    t.brokers([1, 2, 3, 4, 5, 6], 3);
    const [r] = create(t, [
      { name: 'orders', numPartitions: 12, replicationFactor: 3, configs: { 'retention.ms': '1000' } },
    ]);
    expect(r).toMatchObject({ name: 'orders', errorCode: 0, numPartitions: 12, replicationFactor: 3 });
    const topic = t.image.topics.byName('orders')!;
    expect(topic.id).toBe(r!.topicId);
    const leaders = new Map<number, number>();
    for (const p of topic.partitions) {
      const racks = new Set(p.replicas.map((b) => t.image.cluster.broker(b)!.rack));
      expect(racks.size).toBe(3);
      expect(p.leader).toBe(p.replicas[0]);
      expect(p.isr).toEqual(p.replicas);
      leaders.set(p.leader, (leaders.get(p.leader) ?? 0) + 1);
    }
    expect([...leaders.values()].every((n) => n === 2)).toBe(true);
    expect(t.image.configs.get(ConfigResourceType.Topic, 'orders')!.values.get('retention.ms')).toBe('1000');
  });

  it('refuses duplicates, bad names, too large a replication factor, bad configs; validateOnly writes nothing', () => {
    const t = new Harness();
    t.brokers([1, 2]);
    create(t, [{ name: 'x', numPartitions: 1, replicationFactor: 1 }]);
    const results = create(t, [
      { name: 'x', numPartitions: 1, replicationFactor: 1 },
      { name: 'bad/name', numPartitions: 1, replicationFactor: 1 },
      { name: '..', numPartitions: 1, replicationFactor: 1 },
      { name: 'a'.repeat(250), numPartitions: 1, replicationFactor: 1 },
      { name: 'rf', numPartitions: 1, replicationFactor: 3 },
      { name: 'zero', numPartitions: 0, replicationFactor: 1 },
      { name: 'cfg', numPartitions: 1, replicationFactor: 1, configs: { 'retention.ms': 'soon' } },
      { name: 'cfg2', numPartitions: 1, replicationFactor: 1, configs: { 'no.such.key': '1' } },
      { name: 'dup', numPartitions: 1, replicationFactor: 1 },
      { name: 'dup', numPartitions: 1, replicationFactor: 1 },
    ]);
    expect(results.map((r) => r.error)).toEqual([
      'TOPIC_ALREADY_EXISTS',
      'INVALID_TOPIC_EXCEPTION',
      'INVALID_TOPIC_EXCEPTION',
      'INVALID_TOPIC_EXCEPTION',
      'INVALID_REPLICATION_FACTOR',
      'INVALID_PARTITIONS',
      'INVALID_CONFIG',
      'INVALID_CONFIG',
      'INVALID_REQUEST',
      'INVALID_REQUEST',
    ]);
    expect(results.every((r) => r.errorCode > 0)).toBe(true);
    const before = t.image.provenance.offset;
    const [ok] = create(t, [{ name: 'dry', numPartitions: 2, replicationFactor: 2 }], true);
    expect(ok!.errorCode).toBe(0);
    expect(t.image.provenance.offset).toBe(before);
    expect(t.image.topics.byName('dry')).toBeUndefined();
  });

  it("refuses a name colliding with an existing topic on '.' vs '_'", () => {
    const t = new Harness();
    t.brokers([1]);
    create(t, [{ name: 'a.b', numPartitions: 1, replicationFactor: 1 }]);
    expect(create(t, [{ name: 'a_b', numPartitions: 1, replicationFactor: 1 }])[0]!.error).toBe(
      'INVALID_TOPIC_EXCEPTION',
    );
  });

  it('checks a new name by lookups, never by a pass over every topic', () => {
    const t = new Harness();
    t.brokers([1]);
    create(t, [{ name: 'x.y_z', numPartitions: 1, replicationFactor: 1 }]);
    const every = vi.spyOn(Object.getPrototypeOf(t.image.topics), 'topics');
    try {
      // Another seed than create()'s: the topic ids must differ from the first request's.
      const topics = ['plain', 'p.q', 'p_q', 'x_y.z'].map((name) => ({
        name,
        numPartitions: 1,
        replicationFactor: 1,
      }));
      const results = t.run(h.createTopics(t.image, topics, { defaults, random: seeded(8) }));
      // One created earlier in the same request counts as existing.
      expect(results.map((r) => r.error)).toEqual([
        null,
        null,
        'INVALID_TOPIC_EXCEPTION',
        'INVALID_TOPIC_EXCEPTION',
      ]);
      expect(every).not.toHaveBeenCalled();
    } finally {
      every.mockRestore();
    }
  });

  it('deletes topics with their configs; unknown ones are reported', () => {
    const t = new Harness();
    t.brokers([1]);
    const [a] = create(t, [
      { name: 'a', numPartitions: 1, replicationFactor: 1, configs: { 'retention.ms': '5' } },
    ]);
    const results = t.run(h.deleteTopics(t.image, { names: ['a', 'nope'], topicIds: ['zzz'] }));
    expect(results.map((r) => [r.name, r.error])).toEqual([
      ['a', null],
      ['nope', 'UNKNOWN_TOPIC_OR_PARTITION'],
      [null, 'UNKNOWN_TOPIC_OR_PARTITION'],
    ]);
    expect(t.image.topics.byId(a!.topicId!)).toBeUndefined();
    expect(t.image.configs.get(ConfigResourceType.Topic, 'a')).toBeUndefined();
  });

  it('adds partitions, refusing a decrease and an unknown topic', () => {
    const t = new Harness();
    t.brokers([1, 2, 3]);
    create(t, [{ name: 'a', numPartitions: 2, replicationFactor: 2 }]);
    const results = t.run(
      h.createPartitions(
        t.image,
        [
          { name: 'a', count: 5 },
          { name: 'a', count: 1 },
          { name: 'ghost', count: 3 },
        ],
        false,
      ),
    );
    expect(results.map((r) => r.error)).toEqual([null, 'INVALID_PARTITIONS', 'UNKNOWN_TOPIC_OR_PARTITION']);
    const topic = t.image.topics.byName('a')!;
    expect(topic.partitions).toHaveLength(5);
    expect(topic.partitions.every((p) => p.replicas.length === 2)).toBe(true);
  });
});

describe('leadership', () => {
  it('AlterPartition: the leader expands the ISR; stale epochs and non-leaders are refused', () => {
    const t = new Harness();
    t.brokers([1, 2, 3]);
    create(t, [
      {
        name: 'a',
        numPartitions: -1,
        replicationFactor: -1,
        assignments: [{ partitionIndex: 0, brokerIds: [1, 2, 3] }],
      },
    ]);
    t.apply(h.fenceBroker(t.image, 3));
    t.apply(h.unfenceBroker(t.image, 3));
    const topic = t.image.topics.byName('a')!;
    const p = topic.partitions[0]!;
    expect(p.isr).toEqual([1, 2]);
    const epochOf = (id: number) => t.image.cluster.broker(id)!.epoch;
    const base = {
      topicId: topic.id,
      partitionId: 0,
      brokerId: 1,
      brokerEpoch: epochOf(1),
      leaderEpoch: p.leaderEpoch,
      partitionEpoch: p.partitionEpoch,
      leaderRecoveryState: 0 as const,
    };
    const isr = [1, 2, 3].map((brokerId) => ({ brokerId, brokerEpoch: epochOf(brokerId) }));
    const r = t.run(h.alterPartition(t.image, { ...base, newIsr: isr }));
    expect(r).toMatchObject({ errorCode: 0, isr: [1, 2, 3], partitionEpoch: p.partitionEpoch + 1 });
    expect(() => h.alterPartition(t.image, { ...base, newIsr: isr })).toThrow(
      expect.objectContaining({ code: 'INVALID_UPDATE_VERSION' }),
    );
    const cur = t.image.topics.byName('a')!.partitions[0]!;
    const now = { ...base, partitionEpoch: cur.partitionEpoch };
    expect(() =>
      h.alterPartition(t.image, { ...now, brokerId: 2, brokerEpoch: epochOf(2), newIsr: isr }),
    ).toThrow(ControllerError);
    expect(() => h.alterPartition(t.image, { ...now, brokerEpoch: 999, newIsr: isr })).toThrow(
      expect.objectContaining({ code: 'STALE_BROKER_EPOCH' }),
    );
    expect(() => h.alterPartition(t.image, { ...now, partitionId: 7, newIsr: isr })).toThrow(
      expect.objectContaining({ code: 'UNKNOWN_TOPIC_OR_PARTITION' }),
    );
  });

  it('AlterPartitions: one request re-adds a broker to many ISRs, each partition answering for itself', () => {
    const t = new Harness();
    t.brokers([1, 2, 3]);
    create(t, [
      {
        name: 'a',
        numPartitions: -1,
        replicationFactor: -1,
        assignments: [0, 1, 2, 3].map((partitionIndex) => ({ partitionIndex, brokerIds: [1, 2, 3] })),
      },
    ]);
    t.apply(h.fenceBroker(t.image, 3));
    t.apply(h.unfenceBroker(t.image, 3));
    const topic = t.image.topics.byName('a')!;
    const epochOf = (id: number) => t.image.cluster.broker(id)!.epoch;
    const isr = [1, 2, 3].map((brokerId) => ({ brokerId, brokerEpoch: epochOf(brokerId) }));
    const item = (partitionId: number, leaderRecoveryState: 0 = 0) => {
      const p = topic.partitions[partitionId];
      return {
        topicId: topic.id,
        partitionId,
        leaderEpoch: p?.leaderEpoch ?? 0,
        partitionEpoch: p?.partitionEpoch ?? 0,
        newIsr: isr,
        leaderRecoveryState,
      };
    };
    const before = t.image.provenance.offset;
    const r = t.run(
      h.alterPartitions(t.image, {
        brokerId: 1,
        brokerEpoch: epochOf(1),
        partitions: [item(0), item(1), item(9), item(1), item(3)],
      }),
    );
    expect(r.partitions.map((p) => [p.partitionId, p.error])).toEqual([
      [0, null],
      [1, null],
      [9, 'UNKNOWN_TOPIC_OR_PARTITION'],
      [1, 'INVALID_REQUEST'],
      [3, null],
    ]);
    // One batch for all of them; partition 2 was not asked about.
    expect(t.image.provenance.offset).toBe(before + 1);
    const after = t.image.topics.byName('a')!.partitions;
    expect(after.map((p) => p.isr)).toEqual([
      [1, 2, 3],
      [1, 2, 3],
      [1, 2],
      [1, 2, 3],
    ]);
    expect(r.partitions[0]).toMatchObject({ isr: [1, 2, 3], partitionEpoch: after[0]!.partitionEpoch });
    expect(() =>
      h.alterPartitions(t.image, { brokerId: 1, brokerEpoch: 999, partitions: [item(2)] }),
    ).toThrow(expect.objectContaining({ code: 'STALE_BROKER_EPOCH' }));
    expect(() =>
      h.alterPartitions(t.image, {
        brokerId: 1,
        brokerEpoch: epochOf(1),
        partitions: 'all' as unknown as [],
      }),
    ).toThrow(expect.objectContaining({ code: 'INVALID_REQUEST' }));
  });

  it('preferred election moves leadership back once the preferred replica is in the ISR', () => {
    const t = new Harness();
    t.brokers([1, 2]);
    create(t, [
      {
        name: 'a',
        numPartitions: -1,
        replicationFactor: -1,
        assignments: [{ partitionIndex: 0, brokerIds: [1, 2] }],
      },
    ]);
    t.apply(h.fenceBroker(t.image, 1));
    t.apply(h.unfenceBroker(t.image, 1));
    let r = t.run(h.electLeaders(t.image, 'PREFERRED', [{ topic: 'a', partitions: [0] }]));
    expect(r[0]!.error).toBe('PREFERRED_LEADER_NOT_AVAILABLE'); // 1 is not back in the ISR yet
    const topic = t.image.topics.byName('a')!;
    const p = topic.partitions[0]!;
    t.run(
      h.alterPartition(t.image, {
        topicId: topic.id,
        partitionId: 0,
        brokerId: 2,
        brokerEpoch: t.image.cluster.broker(2)!.epoch,
        leaderEpoch: p.leaderEpoch,
        partitionEpoch: p.partitionEpoch,
        leaderRecoveryState: 0,
        newIsr: [2, 1].map((brokerId) => ({
          brokerId,
          brokerEpoch: t.image.cluster.broker(brokerId)!.epoch,
        })),
      }),
    );
    r = t.run(h.electLeaders(t.image, 'PREFERRED', [{ topic: 'a', partitions: [0] }]));
    expect(r[0]!.errorCode).toBe(0);
    expect(t.image.topics.byName('a')!.partitions[0]!.leader).toBe(1);
    r = t.run(
      h.electLeaders(t.image, 'PREFERRED', [
        { topic: 'a', partitions: [0] },
        { topic: 'zz', partitions: [0] },
      ]),
    );
    expect(r.map((x) => x.error)).toEqual(['ELECTION_NOT_NEEDED', 'UNKNOWN_TOPIC_OR_PARTITION']);
  });
});

describe('configs', () => {
  it('sets and deletes topic, broker and cluster-default configs', () => {
    const t = new Harness();
    t.brokers([1]);
    create(t, [{ name: 'a', numPartitions: 1, replicationFactor: 1 }]);
    const results = t.run(
      h.alterConfigs(
        t.image,
        [
          {
            resourceType: ConfigResourceType.Topic,
            resourceName: 'a',
            alterations: [{ name: 'cleanup.policy', op: 'set', value: 'compact' }],
          },
          {
            resourceType: ConfigResourceType.Broker,
            resourceName: '1',
            alterations: [{ name: 'log.retention.ms', op: 'set', value: '100' }],
          },
          {
            resourceType: ConfigResourceType.Broker,
            resourceName: '',
            alterations: [{ name: 'min.insync.replicas', op: 'set', value: '2' }],
          },
        ],
        false,
      ),
    );
    expect(results.every((r) => r.errorCode === 0)).toBe(true);
    expect(h.configsOf(t.image, ConfigResourceType.Topic, 'a')).toEqual({ 'cleanup.policy': 'compact' });
    expect(h.configsOf(t.image, ConfigResourceType.Broker, '')).toEqual({ 'min.insync.replicas': '2' });
    t.run(
      h.alterConfigs(
        t.image,
        [
          {
            resourceType: ConfigResourceType.Topic,
            resourceName: 'a',
            alterations: [{ name: 'cleanup.policy', op: 'delete' }],
          },
        ],
        false,
      ),
    );
    expect(h.configsOf(t.image, ConfigResourceType.Topic, 'a')).toEqual({});
  });

  it('refuses unknown keys, bad values, unknown topics and bad broker names; validateOnly writes nothing', () => {
    const t = new Harness();
    t.brokers([1]);
    create(t, [{ name: 'a', numPartitions: 1, replicationFactor: 1 }]);
    const before = t.image.provenance.offset;
    const results = t.run(
      h.alterConfigs(
        t.image,
        [
          {
            resourceType: ConfigResourceType.Topic,
            resourceName: 'a',
            alterations: [{ name: 'bogus', op: 'set', value: '1' }],
          },
          {
            resourceType: ConfigResourceType.Topic,
            resourceName: 'a',
            alterations: [{ name: 'min.insync.replicas', op: 'set', value: 'zero' }],
          },
          {
            resourceType: ConfigResourceType.Topic,
            resourceName: 'gone',
            alterations: [{ name: 'retention.ms', op: 'set', value: '1' }],
          },
          {
            resourceType: ConfigResourceType.Broker,
            resourceName: 'abc',
            alterations: [{ name: 'log.retention.ms', op: 'set', value: '1' }],
          },
          {
            resourceType: ConfigResourceType.Topic,
            resourceName: 'a',
            alterations: [{ name: 'retention.ms', op: 'set', value: '9' }],
          },
        ],
        true,
      ),
    );
    expect(results.map((r) => r.error)).toEqual([
      'INVALID_CONFIG',
      'INVALID_CONFIG',
      'UNKNOWN_TOPIC_OR_PARTITION',
      'INVALID_REQUEST',
      null,
    ]);
    expect(t.image.provenance.offset).toBe(before);
  });
});

describe('offsets', () => {
  it('commits many partitions in one batch, refusing unknown partitions and bad offsets', () => {
    const t = new Harness();
    t.brokers([1]);
    create(t, [{ name: 'a', numPartitions: 3, replicationFactor: 1 }]);
    const before = t.image.provenance.offset;
    const results = t.run(
      h.commitOffsets(
        t.image,
        'g',
        [
          { topic: 'a', partition: 0, offset: 10, metadata: 'm' },
          { topic: 'a', partition: 2, offset: 20 },
          { topic: 'a', partition: 3, offset: 1 },
          { topic: 'zz', partition: 0, offset: 1 },
          { topic: 'a', partition: 1, offset: -5 },
        ],
        t.nowMs,
      ),
    );
    expect(results.map((r) => r.error)).toEqual([
      null,
      null,
      'UNKNOWN_TOPIC_OR_PARTITION',
      'UNKNOWN_TOPIC_OR_PARTITION',
      'INVALID_REQUEST',
    ]);
    expect(t.image.provenance.offset).toBe(before + 1);
    expect(t.image.offsets.group('g')!.get('a', 0)).toMatchObject({ offset: 10, metadata: 'm' });
    expect(() => h.commitOffsets(t.image, '', [], 0)).toThrow(
      expect.objectContaining({ code: 'INVALID_GROUP_ID' }),
    );
    const huge = t.run(
      h.commitOffsets(t.image, 'g', [{ topic: 'a', partition: 0, offset: 1, metadata: 'x'.repeat(5000) }], 0),
    );
    expect(huge[0]!.error).toBe('OFFSET_METADATA_TOO_LARGE');
  });

  it('deletes a partition, a topic, or a whole group; an unknown group is refused', () => {
    const t = new Harness();
    t.brokers([1]);
    create(t, [
      { name: 'a', numPartitions: 2, replicationFactor: 1 },
      { name: 'b', numPartitions: 1, replicationFactor: 1 },
    ]);
    t.run(
      h.commitOffsets(
        t.image,
        'g',
        [
          { topic: 'a', partition: 0, offset: 1 },
          { topic: 'a', partition: 1, offset: 2 },
          { topic: 'b', partition: 0, offset: 3 },
        ],
        0,
      ),
    );
    t.run(h.deleteOffsets(t.image, 'g', 'a', 1));
    expect(t.image.offsets.group('g')!.size).toBe(2);
    t.run(h.deleteOffsets(t.image, 'g', 'a'));
    expect(t.image.offsets.group('g')!.size).toBe(1);
    t.run(h.deleteOffsets(t.image, 'g'));
    expect(t.image.offsets.group('g')).toBeUndefined();
    expect(() => h.deleteOffsets(t.image, 'g')).toThrow(
      expect.objectContaining({ code: 'GROUP_ID_NOT_FOUND' }),
    );
  });
});

describe('bootstrap and no-ops', () => {
  it('bootstrap writes the cluster id and feature levels; a no-op only moves the offset', () => {
    const t = new Harness();
    t.apply(h.bootstrapRecords('cid', new Map([['metadata.version', 1]])));
    expect(t.image.cluster.clusterId).toBe('cid');
    expect(t.image.features.level('metadata.version')).toBe(1);
    const before = t.image;
    t.apply(h.noOp());
    expect(t.image.provenance.offset).toBe(before.provenance.offset + 1);
    expect(t.image.topics).toBe(before.topics);
    expect(h.noOp()[0]!.type).toBe(RecordType.NoOp);
  });
});
