/**
 * `linearizable: true` reads: served by the Raft leader after a quorum check, forwarded by the others.
 * A deposed leader cut off from the quorum must not answer one from its stale image.
 */
import { Connection } from '@kbroker/client/connection';
import { waitFor } from '@kbroker/raft/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { type InProcessCluster, startCluster } from '../src/cluster.js';

let cluster: InProcessCluster | undefined;
const conns: Connection[] = [];
afterEach(async () => {
  await Promise.all(conns.splice(0).map((c) => c.close()));
  await cluster?.stop();
  cluster = undefined;
});

async function connect(address: string, requestTimeoutMs = 10_000): Promise<Connection> {
  const [host, port] = address.split(':');
  const endpoint = { host: host!, port: Number(port) };
  const conn = await Connection.connect(endpoint, {
    ...endpoint,
    clientId: 'test',
    connectionTimeoutMs: 3000,
    requestTimeoutMs,
  });
  conns.push(conn);
  return conn;
}

const commit = (conn: Connection, offset: number) =>
  conn.request('commitOffsets', { groupId: 'g', offsets: [{ topic: 'reg', partition: 0, offset }] });

const read = async (conn: Connection, linearizable: boolean): Promise<number | string> => {
  try {
    const r = await conn.request('fetchOffsets', { groupId: 'g', ...(linearizable ? { linearizable } : {}) });
    return r.offsets.find((o) => o.topic === 'reg' && o.partition === 0)?.offset ?? -1;
  } catch (err) {
    return (err as { code?: string }).code ?? 'error';
  }
};

describe('linearizable reads', () => {
  it('are answered through the leader by every node, and never from a deposed leader cut off from the quorum', async () => {
    cluster = await startCluster({ nodes: 3, sessionTimeoutMs: 60_000, brokerHeartbeatIntervalMs: 300 });
    const old = await cluster.controller();
    const others = cluster.nodes.filter((n) => n.nodeId !== old.nodeId);
    const a = await connect(others[0]!.address);
    await a.request('createTopics', { topics: [{ name: 'reg', numPartitions: 1, replicationFactor: 3 }] });
    await commit(a, 1);
    // A follower forwards the read to the leader, which has applied the commit.
    expect(await read(await connect(others[1]!.address), true)).toBe(1);

    const onOld = await connect(cluster.node(old.nodeId).address, 3_000);
    await waitFor(async () => (await read(onOld, false)) === 1, 'the commit applied on the leader');
    cluster.partitionNode(old.nodeId);
    // The two others elect a new controller and take a new commit.
    await waitFor(
      () => others.some((n) => n.node?.controller?.isActive() === true),
      'a new controller among the others',
      20_000,
    );
    await waitFor(
      async () =>
        (await commit(a, 2)
          .then(() => true)
          .catch(() => false)) === true,
      'commit 2',
    );
    // The long session timeout keeps the cut-off broker unfenced: a plain read still serves its stale image.
    expect(await read(onOld, false)).toBe(1);
    // A linearizable read there fails (it cannot confirm leadership, nor reach a leader), never says 1.
    for (let i = 0; i < 3; i++) expect(await read(onOld, true)).toBeTypeOf('string');

    cluster.heal();
    await waitFor(async () => (await read(onOld, true)) === 2, 'the healed node answers 2', 20_000);
  });
});
