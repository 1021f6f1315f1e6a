/**
 * The in-process cluster and the node runtime, through the real client listener.
 */
import { Connection } from '@kbroker/client/connection';
import { waitFor } from '@kbroker/raft/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { type InProcessCluster, startCluster } from '../src/cluster.js';

let cluster: InProcessCluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

async function connect(address: string): Promise<Connection> {
  const [host, port] = address.split(':');
  return Connection.connect(
    { host: host!, port: Number(port) },
    {
      host: host!,
      port: Number(port),
      clientId: 'test',
      connectionTimeoutMs: 3000,
      requestTimeoutMs: 10_000,
    },
  );
}

describe('startCluster', () => {
  it('resolves with a controller and every broker unfenced; topics created on one node appear on all', async () => {
    cluster = await startCluster({ nodes: 3 });
    const conns = await Promise.all(cluster.brokers.map(connect));
    const d = await conns[0]!.request('describeCluster', {});
    expect(d.brokers.map((b) => [b.id, b.fenced])).toEqual([
      [1, false],
      [2, false],
      [3, false],
    ]);
    expect(d.controllerId).toBeGreaterThan(0);
    expect(d.controllerEndpoint).not.toBeNull();
    // Ask a node that is not the controller: it forwards to the active one.
    const nonController = conns[d.controllerId === 1 ? 1 : 0]!;
    const created = await nonController.request('createTopics', {
      topics: [{ name: 'orders', numPartitions: 6, replicationFactor: 3 }],
    });
    expect(created.topics[0]).toMatchObject({ name: 'orders', errorCode: 0 });
    for (const c of conns) {
      await waitFor(
        async () => (await c.request('describeTopics', { names: ['orders'] })).topics[0]!.errorCode === 0,
        'the topic everywhere',
      );
      const t = (await c.request('describeTopics', { names: ['orders'] })).topics[0]!;
      expect(t.partitions).toHaveLength(6);
      expect(t.partitions.every((p) => p.leader > 0 && p.isr.length === 3)).toBe(true);
    }
    const dup = await nonController.request('createTopics', {
      topics: [{ name: 'orders', numPartitions: 1, replicationFactor: 1 }],
    });
    expect(dup.topics[0]!.error).toBe('TOPIC_ALREADY_EXISTS');
    await Promise.all(conns.map((c) => c.close()));
  });

  it('fences a killed broker after the session timeout, moves its leaderships, and restores them on restart', async () => {
    cluster = await startCluster({ nodes: 3, sessionTimeoutMs: 1500, brokerHeartbeatIntervalMs: 300 });
    const conn = await connect(cluster.brokers[0]!);
    await conn.request('createTopics', { topics: [{ name: 't', numPartitions: 9, replicationFactor: 3 }] });
    const controller = await cluster.controller();
    const victim = controller.nodeId === 3 ? 2 : 3;
    const ledBefore = (await conn.request('describeTopics', { names: ['t'] })).topics[0]!.partitions.filter(
      (p) => p.replicas[0] === victim,
    ).length;
    expect(ledBefore).toBeGreaterThan(0);
    await cluster.killNode(victim);
    await waitFor(
      async () => (await conn.request('describeCluster', {})).brokers.find((b) => b.id === victim)!.fenced,
      'the victim fenced',
      15_000,
    );
    const during = (await conn.request('describeTopics', { names: ['t'] })).topics[0]!.partitions;
    expect(during.every((p) => p.leader !== victim && !p.isr.includes(victim))).toBe(true);
    await cluster.restartNode(victim);
    await cluster.waitUntilReady();
    // The leaders add the returning broker back to their ISRs; preferred election then returns leadership.
    await waitFor(
      async () => {
        const parts = (await conn.request('describeTopics', { names: ['t'] })).topics[0]!.partitions;
        return parts.every((p) => p.isr.length === 3 && p.leader === p.replicas[0]);
      },
      'preferred leaders back',
      20_000,
    );
    await conn.close();
  });

  it('a broker cut off from the quorum says it is unavailable instead of serving stale metadata', async () => {
    cluster = await startCluster({ nodes: 3, sessionTimeoutMs: 1500, brokerHeartbeatIntervalMs: 300 });
    const controller = await cluster.controller();
    const victim = controller.nodeId === 3 ? 2 : 3;
    const conn = await connect(cluster.node(victim).address);
    expect((await conn.request('listTopics', {})).topics).toEqual([]);
    cluster.partitionNode(victim);
    await waitFor(
      async () =>
        (await conn.request('listTopics', {}).catch((e: { code?: string }) => e.code)) ===
        'BROKER_NOT_AVAILABLE',
      'the partitioned broker to refuse reads',
      15_000,
    );
    cluster.heal();
    await cluster.waitUntilReady();
    await waitFor(
      async () =>
        Array.isArray((await conn.request('listTopics', {}).catch(() => ({ topics: null }))).topics),
      'reads served again',
    );
    await conn.close();
  });
});
