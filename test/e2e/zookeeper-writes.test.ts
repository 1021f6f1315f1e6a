/**
 * Kafka's ZooKeeper-era admin writes through a real ZooKeeper client (node-zookeeper-client), mapped to
 * controller operations by the nodes' ZooKeeper view: topic creation and deletion, topic configs,
 * preferred replica election and old-consumer offsets.
 */
import { type InProcessCluster, startCluster } from '@kbroker/broker';
import { Kbroker } from '@kbroker/client';
import { waitFor } from '@kbroker/raft/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { zkAddressOf, zkConnect } from './helpers/zk.js';

let cluster: InProcessCluster;
let client: Kbroker;

beforeAll(async () => {
  cluster = await startCluster({ nodes: 3, zookeeper: true });
  client = new Kbroker({ brokers: cluster.brokers });
});

afterAll(async () => {
  await client?.disconnect();
  await cluster?.stop();
});

const zkAddress = (nodeId: number) => zkAddressOf(cluster, nodeId);

/** The ZooKeeper error code a promise rejects with. */
async function zkError(p: Promise<unknown>): Promise<number> {
  try {
    await p;
  } catch (err) {
    const code = (err as { getCode?: () => number }).getCode?.();
    if (typeof code === 'number') return code;
    throw err;
  }
  throw new Error('the write succeeded');
}

const NONODE = -101;
const BADVERSION = -103;
const NODEEXISTS = -110;
const UNIMPLEMENTED = -6;

describe('admin writes through the ZooKeeper view', () => {
  it('creates a topic from /brokers/topics/<t> and deletes it through /admin/delete_topics', async () => {
    const z = await zkConnect(zkAddress(2));
    await z.create('/brokers/topics/zk-made', {
      version: 1,
      partitions: { 0: [1, 2], 1: [2, 3], 2: [3, 1] },
    });
    // The reply waited for the tree: the topic shows at once on this server.
    const assignment = JSON.parse((await z.data('/brokers/topics/zk-made')).data!.toString());
    expect(assignment.partitions).toEqual({ 0: [1, 2], 1: [2, 3], 2: [3, 1] });
    await waitFor(
      async () => (await z.children('/brokers/topics/zk-made/partitions')).length === 3,
      'the partitions znodes',
    );
    for (const p of [0, 1, 2]) {
      await waitFor(
        async () => (await z.exists(`/brokers/topics/zk-made/partitions/${p}/state`)) !== null,
        `partition ${p}'s state znode`,
      );
    }
    const state = JSON.parse((await z.data('/brokers/topics/zk-made/partitions/0/state')).data!.toString());
    expect([1, 2]).toContain(state.leader);
    await waitFor(async () => (await client.admin().listTopics()).includes('zk-made'), 'the topic listed');
    const { topics } = await client.admin().describeTopics({ topics: ['zk-made'] });
    expect(topics[0]!.partitions.map((p) => [...p.replicas]).sort()).toEqual([
      [1, 2],
      [2, 3],
      [3, 1],
    ]);

    // As ZooKeeper: the existing topic's znode exists; a parent that does not is NONODE.
    expect(await zkError(z.create('/brokers/topics/zk-made', { version: 1, partitions: { 0: [1] } }))).toBe(
      NODEEXISTS,
    );
    expect(await zkError(z.create('/brokers/topics/nope/partitions', null))).toBe(NONODE);

    await z.create('/admin/delete_topics/zk-made', null);
    expect(await z.exists('/brokers/topics/zk-made')).toBeNull();
    await waitFor(async () => !(await client.admin().listTopics()).includes('zk-made'), 'the topic gone');
    // A marker for a topic that is not there: ZooKeeper takes it (Kafka's controller dropped it).
    expect(await z.create('/admin/delete_topics/zk-made', null)).toBe('/admin/delete_topics/zk-made');
    expect(await z.exists('/admin/delete_topics/zk-made')).toBeNull();
    z.close();
  });

  it('alters topic configs with setData, honouring the expected version', async () => {
    await client
      .admin()
      .createTopics({ topics: [{ topic: 'zk-conf', numPartitions: 1, replicationFactor: 3 }] });
    const z = await zkConnect(zkAddress(1));
    const path = '/config/topics/zk-conf';
    await waitFor(async () => (await z.exists(path)) !== null, 'the config znode');
    const before = await z.data(path);
    const stat = await z.setData(
      path,
      { version: 1, config: { 'retention.ms': '3600000', 'cleanup.policy': 'compact' } },
      before.stat.version,
    );
    expect(stat.version).toBe(before.stat.version + 1);
    const configs = async () => {
      const res = await client.admin().describeConfigs({ resources: [{ type: 'topic', name: 'zk-conf' }] });
      return Object.fromEntries(res.resources[0]!.configEntries.map((e) => [e.configName, e.configValue]));
    };
    await waitFor(async () => (await configs())['retention.ms'] === '3600000', 'retention.ms set');
    expect((await configs())['cleanup.policy']).toBe('compact');

    // A stale version is refused and changes nothing.
    expect(
      await zkError(z.setData(path, { version: 1, config: { 'retention.ms': '1' } }, before.stat.version)),
    ).toBe(BADVERSION);
    expect(JSON.parse((await z.data(path)).data!.toString()).config['retention.ms']).toBe('3600000');

    // Keys no longer present are deleted (-1: any version).
    await z.setData(path, { version: 1, config: { 'retention.ms': '7200000' } });
    const after = JSON.parse((await z.data(path)).data!.toString());
    expect(after.config).toEqual({ 'retention.ms': '7200000' });
    await waitFor(async () => (await configs())['retention.ms'] === '7200000', 'retention.ms updated');
    expect((await configs())['cleanup.policy']).not.toBe('compact');
    z.close();
  });

  it('runs a preferred replica election from /admin/preferred_replica_election', async () => {
    await client
      .admin()
      .createTopics({ topics: [{ topic: 'zk-elect', numPartitions: 2, replicationFactor: 3 }] });
    const z = await zkConnect(zkAddress(3));
    await z.create('/admin/preferred_replica_election', {
      version: 1,
      partitions: [
        { topic: 'zk-elect', partition: 0 },
        { topic: 'zk-elect', partition: 1 },
      ],
    });
    await waitFor(async () => {
      const { topics } = await client.admin().describeTopics({ topics: ['zk-elect'] });
      return topics[0]!.partitions.every((p) => p.leader === p.replicas[0]);
    }, 'preferred leaders');
    // Without a list: every partition.
    await z.create('/admin/preferred_replica_election', null);
    z.close();
  });

  it('commits an old-consumer offset by create then setData', async () => {
    await client
      .admin()
      .createTopics({ topics: [{ topic: 'zk-offs', numPartitions: 1, replicationFactor: 3 }] });
    const z = await zkConnect(zkAddress(1));
    const path = '/consumers/zk-group/offsets/zk-offs/0';
    await z.create(path, '42');
    expect((await z.data(path)).data!.toString()).toBe('42');
    expect(await client.offsets().fetch('zk-group', ['zk-offs'])).toEqual([
      expect.objectContaining({ topic: 'zk-offs', partition: 0, offset: 42 }),
    ]);
    expect(await zkError(z.create(path, '43'))).toBe(NODEEXISTS);
    const { stat } = await z.data(path);
    await z.setData(path, '100', stat.version);
    expect((await z.data(path)).data!.toString()).toBe('100');
    await waitFor(
      async () => (await client.offsets().fetch('zk-group', ['zk-offs']))[0]?.offset === 100,
      'the offset at 100',
    );
    expect(await zkError(z.setData(path, '7', stat.version))).toBe(BADVERSION);
    expect(await zkError(z.setData('/consumers/zk-group/offsets/zk-offs/5', '1'))).toBe(NONODE);
    z.close();
  });

  it('refuses other writes with an error code and keeps the connection usable', async () => {
    const z = await zkConnect(zkAddress(2));
    expect(await zkError(z.create('/foo', 'bar'))).toBe(UNIMPLEMENTED);
    expect(await zkError(z.setData('/brokers/ids/1', '{}'))).toBe(UNIMPLEMENTED);
    expect((await z.children('/brokers/ids')).sort()).toEqual(['1', '2', '3']);
    z.close();
  });
});
