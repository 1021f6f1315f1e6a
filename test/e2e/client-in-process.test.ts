/**
 * @kbroker/client against an in-process kbroker cluster: every admin, offsets and metadata capability,
 * its errors, and continuity across a kill of the active controller.
 */
import { type InProcessCluster, startCluster } from '@kbroker/broker';
import {
  InvalidReplicationFactorError,
  InvalidTopicError,
  Kbroker,
  type MetadataEvent,
  UnknownTopicOrPartitionError,
} from '@kbroker/client';
import { waitFor } from '@kbroker/raft/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let cluster: InProcessCluster;
let client: Kbroker;

beforeAll(async () => {
  cluster = await startCluster({ nodes: 3 });
  client = new Kbroker({ brokers: cluster.brokers, clientId: 'e2e', requestTimeoutMs: 10_000 });
});

afterAll(async () => {
  await client?.disconnect();
  await cluster?.stop();
});

describe('admin', () => {
  it('creates topics, waiting for leaders; refuses duplicates, bad names and impossible replication', async () => {
    const admin = client.admin();
    await admin.connect();
    expect(
      await admin.createTopics({ topics: [{ topic: 'orders', numPartitions: 6, replicationFactor: 3 }] }),
    ).toBe(true);
    const { topics } = await admin.describeTopics({ topics: ['orders'] });
    expect(topics[0]!.partitions).toHaveLength(6);
    expect(topics[0]!.partitions.every((p) => p.leader > 0 && p.isr.length === 3)).toBe(true);
    expect(await admin.createTopics({ topics: [{ topic: 'orders', numPartitions: 1 }] })).toBe(false);
    await expect(
      admin.createTopics({ topics: [{ topic: 'bad name', numPartitions: 1 }] }),
    ).rejects.toBeInstanceOf(InvalidTopicError);
    await expect(
      admin.createTopics({ topics: [{ topic: 'big', numPartitions: 1, replicationFactor: 5 }] }),
    ).rejects.toBeInstanceOf(InvalidReplicationFactorError);
    expect(await admin.listTopics()).toContain('orders');
    expect(await admin.createPartitions({ topicPartitions: [{ topic: 'orders', count: 8 }] })).toBe(true);
    await waitFor(
      async () => (await admin.describeTopics({ topics: ['orders'] })).topics[0]!.partitions.length === 8,
      '8 partitions',
    );
    await admin.alterConfigs({
      resources: [
        { type: 'topic', name: 'orders', configEntries: [{ name: 'retention.ms', value: '1000' }] },
      ],
    });
    const cfg = await admin.describeConfigs({ resources: [{ type: 'topic', name: 'orders' }] });
    await waitFor(async () => {
      const r = await admin.describeConfigs({ resources: [{ type: 'topic', name: 'orders' }] });
      return r.resources[0]!.configEntries.some(
        (e) => e.configName === 'retention.ms' && e.configValue === '1000',
      );
    }, 'the config everywhere');
    expect(cfg.resources[0]!.resourceName).toBe('orders');
    const desc = await admin.describeCluster();
    expect(desc.brokers.map((b) => b.nodeId)).toEqual([1, 2, 3]);
    expect(desc.controller).toBeGreaterThan(0);
    const quorum = await admin.describeQuorum();
    expect(quorum.leaderId).toBe(desc.controller);
    expect(quorum.currentVoters.map((v) => v.id)).toEqual([1, 2, 3]);
    expect(quorum.replicas.find((r) => r.nodeId === quorum.leaderId)!.status).toBe('Leader');
    const elections = await admin.electLeaders({
      preferred: true,
      topicPartitions: [{ topic: 'orders', partitions: [0] }],
    });
    expect(elections[0]!.error).toBe('ELECTION_NOT_NEEDED');
    await admin.deleteTopics({ topics: ['orders'] });
    await waitFor(async () => !(await admin.listTopics()).includes('orders'), 'the topic gone');
    await expect(admin.deleteTopics({ topics: ['orders'] })).rejects.toBeInstanceOf(
      UnknownTopicOrPartitionError,
    );
    await admin.disconnect();
  });
});

describe('offsets and watches', () => {
  it('commits, fetches, lists and deletes group offsets; a watch sees each change once, in order', async () => {
    const admin = client.admin();
    const seen: MetadataEvent[] = [];
    const watch = client.metadata().watch();
    const collecting = (async () => {
      for await (const e of watch) seen.push(e);
    })();
    await admin.createTopics({ topics: [{ topic: 'clicks', numPartitions: 2, replicationFactor: 2 }] });
    const offsets = client.offsets();
    await offsets.commit('g1', [
      { topic: 'clicks', partition: 0, offset: '42', metadata: 'm' },
      { topic: 'clicks', partition: 1, offset: 7 },
    ]);
    await waitFor(async () => (await offsets.fetch('g1')).length === 2, 'offsets visible');
    expect(await offsets.fetch('g1', ['clicks'])).toEqual([
      { topic: 'clicks', partition: 0, offset: 42, metadata: 'm' },
      { topic: 'clicks', partition: 1, offset: 7, metadata: '' },
    ]);
    expect((await offsets.listGroups()).map((g) => g.groupId)).toContain('g1');
    await expect(offsets.commit('g1', [{ topic: 'nope', partition: 0, offset: 1 }])).rejects.toBeInstanceOf(
      UnknownTopicOrPartitionError,
    );
    await offsets.deleteGroup('g1');
    await waitFor(async () => (await offsets.fetch('g1')).length === 0, 'the group gone');
    await waitFor(() => seen.some((e) => e.type === 'offsets-deleted'), 'the delete event');
    await watch.close();
    await collecting;
    const kinds = seen.map((e) => e.type);
    expect(kinds.indexOf('topic-created')).toBeLessThan(kinds.indexOf('offsets-committed'));
    expect(kinds.indexOf('offsets-committed')).toBeLessThan(kinds.indexOf('offsets-deleted'));
    const offsetsSeen = seen.map((e) => e.offset);
    expect(offsetsSeen).toEqual([...offsetsSeen].sort((a, b) => a - b));
    await admin.disconnect();
  });

  it('keeps working across a kill of the active controller', async () => {
    const admin = client.admin();
    await admin.createTopics({ topics: [{ topic: 'survive', numPartitions: 3, replicationFactor: 3 }] });
    const controller = await cluster.controller();
    await cluster.killNode(controller.nodeId);
    // Idempotent calls retry transparently through the failover.
    await client.offsets().commit('g2', [{ topic: 'survive', partition: 0, offset: 1 }]);
    expect((await admin.describeTopics({ topics: ['survive'] })).topics[0]!.partitions).toHaveLength(3);
    const next = await cluster.controller();
    expect(next.nodeId).not.toBe(controller.nodeId);
    await cluster.restartNode(controller.nodeId);
    await cluster.waitUntilReady();
    await admin.disconnect();
  });
});
