/**
 * The znode API of @kbroker/client (`Kbroker.znodes()`): Kafka's ZooKeeper layout through kbroker's
 * own client protocol, against an in-process 3-node cluster.
 */
import { type InProcessCluster, startCluster } from '@kbroker/broker';
import { Kbroker, NoNodeError, type ZnodeWatchEvent } from '@kbroker/client';
import { waitFor } from '@kbroker/raft/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let cluster: InProcessCluster;
let client: Kbroker;

beforeAll(async () => {
  cluster = await startCluster({ nodes: 3, sessionTimeoutMs: 1500, brokerHeartbeatIntervalMs: 300 });
  client = new Kbroker({ brokers: cluster.brokers, clientId: 'e2e-znodes' });
});

afterAll(async () => {
  await client?.disconnect();
  await cluster?.stop();
});

const json = (data: Uint8Array | null): unknown => JSON.parse(Buffer.from(data ?? []).toString('utf8'));

describe('znodes()', () => {
  it('reads /brokers/ids and a topic created with the admin API', async () => {
    const znodes = client.znodes();
    const ids = await znodes.getChildren('/brokers/ids');
    expect([...ids.children]).toEqual(['1', '2', '3']);
    expect(ids.stat.numChildren).toBe(3);
    expect(typeof ids.stat.pzxid).toBe('string');

    const admin = client.admin();
    try {
      await admin.createTopics({ topics: [{ topic: 'zn-orders', numPartitions: 3, replicationFactor: 3 }] });
    } finally {
      await admin.disconnect();
    }
    // The admin's connections are its own: this handle may read from a broker still applying it.
    await waitFor(async () => (await znodes.exists('/brokers/topics/zn-orders')) !== null, 'the topic znode');
    const topic = await znodes.getData('/brokers/topics/zn-orders');
    expect(json(topic.data)).toMatchObject({
      version: 3,
      partitions: { 0: expect.any(Array), 1: expect.any(Array), 2: expect.any(Array) },
    });
    expect(BigInt(topic.stat.czxid)).toBeGreaterThan(0n);
    const partitions = await znodes.getChildren('/brokers/topics/zn-orders/partitions');
    expect([...partitions.children]).toEqual(['0', '1', '2']);
    const state = await znodes.getData('/brokers/topics/zn-orders/partitions/0/state');
    expect(json(state.data)).toMatchObject({ leader: expect.any(Number), isr: expect.any(Array) });
  });

  it('reads its own writes (minOffset) on any broker', async () => {
    // rpc() shares the handle's connections, so the write's offset is carried by the next read.
    const res = await client
      .rpc()
      .request('createTopics', { topics: [{ name: 'zn-ryw', numPartitions: 1, replicationFactor: 3 }] });
    expect(res.topics[0]?.error).toBeNull();
    const stat = await client.znodes().exists('/brokers/topics/zn-ryw');
    expect(stat).not.toBeNull();
  });

  it('fires a one-shot child watch before a read shows the new child', async () => {
    const znodes = client.znodes();
    const events: ZnodeWatchEvent[] = [];
    const listener = (e: ZnodeWatchEvent) => events.push(e);
    znodes.on('watch', listener);
    try {
      const before = await znodes.getChildren('/brokers/topics', { watch: true });
      expect(before.children).not.toContain('zn-watched');
      const admin = client.admin();
      try {
        await admin.createTopics({
          topics: [{ topic: 'zn-watched', numPartitions: 1, replicationFactor: 3 }],
          waitForLeaders: false,
        });
        // Every read showing the new child comes after the event (same connection, ordered by the node).
        await waitFor(async () => {
          const now = await znodes.getChildren('/brokers/topics');
          if (!now.children.includes('zn-watched')) return false;
          expect(events).toContainEqual(
            expect.objectContaining({ type: 'NodeChildrenChanged', path: '/brokers/topics' }),
          );
          return true;
        }, 'the new topic in /brokers/topics');
        expect(events).toHaveLength(1);

        // One-shot: a second topic fires nothing more until the watch is set again.
        await admin.createTopics({
          topics: [{ topic: 'zn-unwatched', numPartitions: 1, replicationFactor: 3 }],
          waitForLeaders: false,
        });
        await waitFor(
          async () => (await znodes.getChildren('/brokers/topics')).children.includes('zn-unwatched'),
          'the second topic',
        );
        expect(events).toHaveLength(1);

        // exists() watches a missing znode until it is created.
        expect(await znodes.exists('/brokers/topics/zn-later', { watch: true })).toBeNull();
        await admin.createTopics({
          topics: [{ topic: 'zn-later', numPartitions: 1, replicationFactor: 3 }],
          waitForLeaders: false,
        });
        await waitFor(async () => {
          if ((await znodes.exists('/brokers/topics/zn-later')) === null) return false;
          expect(events).toContainEqual(
            expect.objectContaining({ type: 'NodeCreated', path: '/brokers/topics/zn-later' }),
          );
          return true;
        }, 'zn-later created');
      } finally {
        await admin.disconnect();
      }
    } finally {
      znodes.off('watch', listener);
    }
  });

  it('throws NoNodeError for a missing znode', async () => {
    const znodes = client.znodes();
    const err = await znodes.getData('/brokers/topics/zn-missing').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NoNodeError);
    expect((err as NoNodeError).code).toBe('NO_NODE');
    await expect(znodes.getChildren('/no/such/path')).rejects.toBeInstanceOf(NoNodeError);
    expect(await znodes.exists('/brokers/topics/zn-missing')).toBeNull();
  });

  it('sees partition state changes through a recursive watch when a broker is killed', async () => {
    // Bootstrapped with node 1 only, so the watch's connection is to node 1: another node is killed.
    const watcher = new Kbroker({ brokers: [cluster.node(1).address], clientId: 'e2e-znodes-recursive' });
    try {
      const admin = watcher.admin();
      try {
        await admin.createTopics({
          topics: [{ topic: 'zn-failover', numPartitions: 3, replicationFactor: 3 }],
        });
      } finally {
        await admin.disconnect();
      }
      const znodes = watcher.znodes();
      const watch = znodes.watch('/brokers/topics/zn-failover', { recursive: true });
      await watch.ready;
      const raftLeader = cluster.nodes.find((n) => n.node?.raft.status().role === 'leader')?.nodeId;
      // Prefer a follower: the test is about the broker's partitions, not a controller election.
      const victim = [2, 3].find((id) => id !== raftLeader) ?? 3;
      await cluster.killNode(victim);

      const statePath = /^\/brokers\/topics\/zn-failover\/partitions\/\d+\/state$/;
      const seen: ZnodeWatchEvent[] = [];
      for await (const event of watch) {
        seen.push(event);
        expect(event.type).not.toBe('NodeChildrenChanged');
        if (event.type !== 'NodeDataChanged' || !statePath.test(event.path)) continue;
        const state = json((await znodes.getData(event.path)).data) as { isr: number[]; leader: number };
        if (!state.isr.includes(victim) && state.leader !== victim) break;
      }
      expect(seen.some((e) => statePath.test(e.path) && e.type === 'NodeDataChanged')).toBe(true);
      await watch.close();
    } finally {
      await watcher.disconnect();
    }
  });
});
