import { afterEach, describe, expect, it } from 'vitest';
import {
  type Admin,
  ConfigResourceTypes,
  InvalidReplicationFactorError,
  InvalidRequestError,
  InvalidTopicError,
  Kbroker,
  KbrokerError,
  RequestTimeoutError,
  TopicAlreadyExistsError,
  UnknownTopicOrPartitionError,
} from '../src/index.js';
import type { ItemResult, PartitionInfo, TopicInfo } from '../src/protocol.js';
import { FakeBroker } from './helpers/fake-broker.js';

const brokers: FakeBroker[] = [];
const clients: Kbroker[] = [];

async function setup(): Promise<{ broker: FakeBroker; kbroker: Kbroker; admin: Admin }> {
  const broker = await FakeBroker.start();
  brokers.push(broker);
  const kbroker = new Kbroker({
    brokers: [broker.address],
    requestTimeoutMs: 2000,
    retry: { retries: 3, initialRetryTimeMs: 5, maxRetryTimeMs: 20 },
  });
  clients.push(kbroker);
  return { broker, kbroker, admin: kbroker.admin() };
}

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.disconnect()));
  await Promise.all(brokers.splice(0).map((b) => b.close()));
});

const OK: ItemResult = { errorCode: 0, errorMessage: null, error: null };
const fail = (error: string, errorCode: number): ItemResult => ({
  errorCode,
  errorMessage: `${error}!`,
  error,
});

function partition(p: number, leader: number): PartitionInfo {
  return {
    partition: p,
    leader,
    leaderEpoch: 0,
    partitionEpoch: 0,
    replicas: [1],
    isr: leader >= 0 ? [1] : [],
  };
}

function topicInfo(name: string, leaders: number[], result: ItemResult = OK): TopicInfo {
  return { name, topicId: `${name}-id`, partitions: leaders.map((l, i) => partition(i, l)), ...result };
}

/** createTopics answers: `results` per topic name (default success, numPartitions as requested or 2). */
function answerCreate(broker: FakeBroker, results: Record<string, ItemResult> = {}): void {
  broker.on('createTopics', (req) => ({
    body: {
      topics: req.body.topics.map((t: { name: string; numPartitions: number }) => ({
        name: t.name,
        topicId: `${t.name}-id`,
        numPartitions: t.numPartitions > 0 ? t.numPartitions : 2,
        replicationFactor: 1,
        ...(results[t.name] ?? OK),
      })),
      offset: 10,
    },
  }));
}

/** describeTopics answers with every partition led by broker 1. */
function answerDescribe(broker: FakeBroker, partitions = 2): void {
  broker.on('describeTopics', (req) => ({
    body: {
      topics: (req.body.names ?? []).map((n: string) => topicInfo(n, Array(partitions).fill(1))),
    },
  }));
}

describe('Admin.createTopics', () => {
  it('resolves true when every topic was created, mapping configs to the protocol', async () => {
    const { broker, admin } = await setup();
    answerCreate(broker);
    answerDescribe(broker, 3);
    const created = await admin.createTopics({
      topics: [
        { topic: 'a', numPartitions: 3, replicationFactor: 1, configEntries: [{ name: 'x', value: '1' }] },
        { topic: 'b' },
        { topic: 'c', replicaAssignment: [{ partition: 0, replicas: [1, 2] }], numPartitions: 9 },
      ],
    });
    expect(created).toBe(true);
    expect(broker.received('createTopics')[0]?.body).toEqual({
      topics: [
        { name: 'a', numPartitions: 3, replicationFactor: 1, configs: { x: '1' } },
        { name: 'b', numPartitions: -1, replicationFactor: -1 },
        {
          name: 'c',
          numPartitions: -1,
          replicationFactor: -1,
          assignments: [{ partitionIndex: 0, brokerIds: [1, 2] }],
        },
      ],
    });
  });

  it('resolves false when a topic already existed', async () => {
    const { broker, admin } = await setup();
    answerCreate(broker, { a: fail('TOPIC_ALREADY_EXISTS', 36) });
    answerDescribe(broker);
    expect(await admin.createTopics({ topics: [{ topic: 'a' }, { topic: 'b' }] })).toBe(false);
    // Only the topic this call created is waited for, at least as of the create's offset (read-your-writes).
    expect(broker.received('describeTopics')[0]?.body).toEqual({ names: ['b'], minOffset: 10 });
  });

  it('throws typed errors for other per-topic failures', async () => {
    const { broker, admin } = await setup();
    answerCreate(broker, {
      rf: fail('INVALID_REPLICATION_FACTOR', 38),
      bad: fail('INVALID_TOPIC_EXCEPTION', 17),
      unnamed: { errorCode: 38, errorMessage: null, error: null },
    });
    const rf = await admin.createTopics({ topics: [{ topic: 'rf' }] }).catch((e: unknown) => e);
    expect(rf).toBeInstanceOf(InvalidReplicationFactorError);
    expect(rf).toBeInstanceOf(KbrokerError);
    expect(rf).toMatchObject({ code: 'INVALID_REPLICATION_FACTOR', errorCode: 38, retriable: false });
    expect((rf as Error).message).toMatch(/topic 'rf'/);
    await expect(admin.createTopics({ topics: [{ topic: 'bad' }] })).rejects.toBeInstanceOf(
      InvalidTopicError,
    );
    // An error given only by number is named from it.
    await expect(admin.createTopics({ topics: [{ topic: 'unnamed' }] })).rejects.toBeInstanceOf(
      InvalidReplicationFactorError,
    );
    // An existing topic alongside a real failure throws the failure.
    answerCreate(broker, { a: fail('TOPIC_ALREADY_EXISTS', 36), rf: fail('INVALID_REPLICATION_FACTOR', 38) });
    await expect(admin.createTopics({ topics: [{ topic: 'a' }, { topic: 'rf' }] })).rejects.toBeInstanceOf(
      InvalidReplicationFactorError,
    );
    expect(broker.received('describeTopics')).toHaveLength(0);
  });

  it('waits for leaders by polling describeTopics until every partition has one', async () => {
    const { broker, admin } = await setup();
    answerCreate(broker);
    const answers: TopicInfo[][] = [
      [topicInfo('a', [], fail('UNKNOWN_TOPIC_OR_PARTITION', 3))],
      [topicInfo('a', [1])],
      [topicInfo('a', [1, -1])],
      [topicInfo('a', [1, 1])],
    ];
    broker.on('describeTopics', () => ({ body: { topics: answers.shift() ?? [] } }));
    expect(await admin.createTopics({ topics: [{ topic: 'a', numPartitions: 2 }] })).toBe(true);
    expect(broker.received('describeTopics')).toHaveLength(4);
    expect(answers).toHaveLength(0);
  });

  it('does not wait with waitForLeaders false or validateOnly', async () => {
    const { broker, admin } = await setup();
    answerCreate(broker);
    await admin.createTopics({ topics: [{ topic: 'a' }], waitForLeaders: false });
    await admin.createTopics({ topics: [{ topic: 'b' }], validateOnly: true });
    expect(broker.received('describeTopics')).toHaveLength(0);
    expect(broker.received('createTopics')[1]?.body.validateOnly).toBe(true);
  });

  it('throws RequestTimeoutError when leaders do not appear in time', async () => {
    const { broker, admin } = await setup();
    answerCreate(broker);
    broker.on('describeTopics', () => ({ body: { topics: [topicInfo('a', [-1, -1])] } }));
    const err = await admin.createTopics({ topics: [{ topic: 'a' }], timeout: 100 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RequestTimeoutError);
    expect((err as Error).message).toMatch(/a/);
    expect(broker.received('describeTopics').length).toBeGreaterThan(1);
  });
});

describe('Admin reads and writes', () => {
  it('describes topics and throws for an unknown one', async () => {
    const { broker, admin } = await setup();
    broker.on('describeTopics', (req) => ({
      body: {
        topics: (req.body.names as string[]).map((n) =>
          n === 'missing' ? topicInfo(n, [], fail('UNKNOWN_TOPIC_OR_PARTITION', 3)) : topicInfo(n, [2]),
        ),
      },
    }));
    const { topics } = await admin.fetchTopicMetadata({ topics: ['a'] });
    expect(topics).toEqual([
      {
        name: 'a',
        topicId: 'a-id',
        partitions: [
          { partitionId: 0, leader: 2, leaderEpoch: 0, partitionEpoch: 0, replicas: [1], isr: [1] },
        ],
      },
    ]);
    await expect(admin.describeTopics({ topics: ['missing'] })).rejects.toBeInstanceOf(
      UnknownTopicOrPartitionError,
    );
  });

  it('deletes topics and throws per-topic errors', async () => {
    const { broker, admin } = await setup();
    broker.on('deleteTopics', (req) => ({
      body: {
        topics: (req.body.names as string[]).map((n) => ({
          name: n,
          topicId: null,
          ...(n === 'missing' ? fail('UNKNOWN_TOPIC_OR_PARTITION', 3) : OK),
        })),
        offset: 1,
      },
    }));
    await admin.deleteTopics({ topics: ['a'] });
    await expect(admin.deleteTopics({ topics: ['missing'] })).rejects.toBeInstanceOf(
      UnknownTopicOrPartitionError,
    );
  });

  it('maps configs both ways', async () => {
    const { broker, admin } = await setup();
    broker.on('describeConfigs', () => ({
      body: {
        resources: [
          {
            resourceType: 'topic',
            resourceName: 'a',
            configs: { 'cleanup.policy': 'compact', x: '1' },
            ...OK,
          },
        ],
      },
    }));
    broker.on('alterConfigs', () => ({
      body: { resources: [{ resourceType: 'topic', resourceName: 'a', ...OK }], offset: 2 },
    }));
    const described = await admin.describeConfigs({
      resources: [{ type: ConfigResourceTypes.TOPIC, name: 'a', configNames: ['cleanup.policy'] }],
    });
    expect(described.resources).toEqual([
      {
        resourceType: 'topic',
        resourceName: 'a',
        configEntries: [{ configName: 'cleanup.policy', configValue: 'compact' }],
      },
    ]);
    await admin.alterConfigs({
      resources: [
        {
          type: ConfigResourceTypes.TOPIC,
          name: 'a',
          configEntries: [
            { name: 'x', value: '2' },
            { name: 'y', value: null },
          ],
        },
      ],
    });
    expect(broker.received('alterConfigs')[0]?.body).toEqual({
      resources: [
        {
          resourceType: 'topic',
          resourceName: 'a',
          alterations: [
            { name: 'x', op: 'set', value: '2' },
            { name: 'y', op: 'delete' },
          ],
        },
      ],
    });
  });

  it('describes the cluster and elects leaders', async () => {
    const { broker, admin } = await setup();
    broker.on('electLeaders', () => ({
      body: {
        results: [
          { topic: 'a', partition: 0, ...OK },
          { topic: 'a', partition: 1, ...fail('ELECTION_NOT_NEEDED', 84) },
        ],
        offset: 3,
      },
    }));
    const cluster = await admin.describeCluster();
    expect(cluster).toEqual({
      clusterId: 'fake-cluster',
      controller: 1,
      brokers: [
        {
          nodeId: 1,
          host: '127.0.0.1',
          port: broker.port,
          rack: null,
          fenced: false,
          inControlledShutdown: false,
        },
      ],
    });
    expect(await admin.electLeaders({ topicPartitions: [{ topic: 'a', partitions: [0, 1] }] })).toEqual([
      { topic: 'a', partition: 0, error: null },
      { topic: 'a', partition: 1, error: 'ELECTION_NOT_NEEDED' },
    ]);
    expect(broker.received('electLeaders')[0]?.body).toEqual({
      type: 'preferred',
      partitions: [{ topic: 'a', partitions: [0, 1] }],
    });
  });
});

describe('Offsets', () => {
  it('commits string and number offsets and throws on a per-partition error', async () => {
    const { broker, kbroker } = await setup();
    broker.on('commitOffsets', (req) => ({
      body: {
        offsets: req.body.offsets.map((o: { topic: string; partition: number }) => ({
          topic: o.topic,
          partition: o.partition,
          ...(o.topic === 'missing' ? fail('UNKNOWN_TOPIC_OR_PARTITION', 3) : OK),
        })),
        offset: 4,
      },
    }));
    const offsets = kbroker.offsets();
    await offsets.commit('g', [
      { topic: 'a', partition: 0, offset: '42' },
      { topic: 'a', partition: 1, offset: 7, metadata: 'm' },
    ]);
    expect(broker.received('commitOffsets')[0]?.body).toEqual({
      groupId: 'g',
      offsets: [
        { topic: 'a', partition: 0, offset: 42 },
        { topic: 'a', partition: 1, offset: 7, metadata: 'm' },
      ],
    });
    const err = await offsets
      .commit('g', [
        { topic: 'a', partition: 0, offset: 1 },
        { topic: 'missing', partition: 0, offset: 1 },
      ])
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnknownTopicOrPartitionError);
    expect((err as Error).message).toMatch(/missing-0/);
    await expect(offsets.commit('g', [{ topic: 'a', partition: 0, offset: '1.5' }])).rejects.toBeInstanceOf(
      InvalidRequestError,
    );
    expect(broker.received('commitOffsets')).toHaveLength(2);
  });

  it('fetches offsets, lists groups and deletes a group', async () => {
    const { broker, kbroker } = await setup();
    broker.on('fetchOffsets', () => ({
      body: { offsets: [{ topic: 'a', partition: 0, offset: 5, metadata: '', commitTimestampMs: 1 }] },
    }));
    broker.on('listGroups', () => ({ body: { groups: [{ groupId: 'g', partitions: 1 }] } }));
    broker.on('deleteOffsets', () => ({ body: { offset: 9 } }));
    const offsets = kbroker.offsets();
    expect(await offsets.fetch('g', ['a'])).toEqual([{ topic: 'a', partition: 0, offset: 5, metadata: '' }]);
    expect(broker.received('fetchOffsets')[0]?.body).toEqual({ groupId: 'g', topics: ['a'] });
    expect(await offsets.listGroups()).toEqual([{ groupId: 'g', partitions: 1 }]);
    await offsets.deleteGroup('g');
    expect(broker.received('deleteOffsets')[0]?.body).toEqual({ groupId: 'g' });
  });
});

describe('errors', () => {
  it('keeps subclasses distinguishable with instanceof', () => {
    const e = new TopicAlreadyExistsError('TOPIC_ALREADY_EXISTS', 'x');
    expect(e).toBeInstanceOf(KbrokerError);
    expect(e).toBeInstanceOf(Error);
    expect(e).not.toBeInstanceOf(InvalidTopicError);
    expect(e).toMatchObject({ errorCode: 36, retriable: false, name: 'TopicAlreadyExistsError' });
  });
});
