/**
 * ZooKeeper-era offset commits (setData /consumers/<g>/offsets/<t>/<p>) are group-committed by each
 * node: concurrent writes of a group share commitOffsets calls (fewer Raft entries than writes), each
 * still gets its own answer, and two writes of one partition commit in the order they were sent.
 */
import { type InProcessCluster, startCluster } from '@kbroker/broker';
import { Kbroker } from '@kbroker/client';
import { ZkError, ZkWireClient } from '@kbroker/zk-view';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let cluster: InProcessCluster;
let client: Kbroker;

beforeAll(async () => {
  cluster = await startCluster({ nodes: 3, zookeeper: true });
  client = new Kbroker({ brokers: cluster.brokers });
  await client
    .admin()
    .createTopics({ topics: [{ topic: 'batched', numPartitions: 8, replicationFactor: 3 }] });
});

afterAll(async () => {
  await client?.disconnect();
  await cluster?.stop();
});

const zkAddress = (nodeId: number) => cluster.node(nodeId).node!.zookeeperAddress()!;
const path = (p: number) => `/consumers/batch-group/offsets/batched/${p}`;

describe('offset commits through the ZooKeeper view', () => {
  it('shares controller calls between concurrent writers, answers each, keeps per-partition order', async () => {
    const sessions = await Promise.all(
      Array.from({ length: 16 }, (_, i) => ZkWireClient.connect(zkAddress((i % 3) + 1))),
    );
    try {
      // Creating an offset znode commits offset 0 (one at a time: these are not what is measured).
      for (let p = 0; p < 8; p++) await sessions[0]!.create(path(p), Buffer.from('0'));
      // 16 writers, two per partition on one node, all at once; then each writer's own second write.
      const first = await Promise.all(
        sessions.map((s, i) => s.setData(path(i % 8), Buffer.from(String(100 + i)))),
      );
      expect(first).toHaveLength(16);
      // Fewer distinct modification zxids than writes: writes went to the controller together.
      expect(new Set(first.map((st) => st.mzxid)).size).toBeLessThan(16);

      // Pipelined writes of one partition on one session: the later one wins.
      const s = sessions[1]!;
      await Promise.all([1000, 1001, 1002, 1003].map((o) => s.setData(path(3), Buffer.from(String(o)))));
      const offsets = await client.offsets().fetch('batch-group', ['batched']);
      expect(offsets.find((o) => o.partition === 3)?.offset).toBe(1003);
      const read = await s.getData(path(3));
      expect(Buffer.from(read!.data!).toString()).toBe('1003');

      // A refused write in a busy group fails alone.
      const bad = sessions[2]!.setData(path(4), Buffer.from('not a number'));
      const good = sessions[3]!.setData(path(5), Buffer.from('555'));
      await expect(bad).rejects.toBeInstanceOf(ZkError);
      await good;
      const after = await client.offsets().fetch('batch-group', ['batched']);
      expect(after.find((o) => o.partition === 5)?.offset).toBe(555);
    } finally {
      await Promise.all(sessions.map((s) => s.close()));
    }
  });
});
