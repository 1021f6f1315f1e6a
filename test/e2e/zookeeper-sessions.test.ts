/**
 * ZooKeeper sessions belong to the kbroker cluster, as to a ZooKeeper ensemble: a client that moves to
 * another broker keeps its session and its watches, the broker it left lets go of it, a session ended
 * anywhere is ended everywhere, and no broker serves a client data older than it has seen.
 */
import { connect } from 'node:net';
import { type InProcessCluster, startCluster } from '@kbroker/broker';
import { Kbroker } from '@kbroker/client';
import { ConfigResourceType } from '@kbroker/metadata-log';
import { waitFor } from '@kbroker/raft/testing';
import zookeeper from 'node-zookeeper-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, OpCode } from '../../packages/zk-view/src/jute/constants.js';
import {
  readStat,
  writePathWatchRequest,
  writeSetDataRequest,
} from '../../packages/zk-view/src/jute/records.js';
import { RawClient } from '../../packages/zk-view/test/helpers/raw-client.js';
import { zkAddressOf } from './helpers/zk.js';

let cluster: InProcessCluster;
let client: Kbroker;

beforeAll(async () => {
  cluster = await startCluster({
    nodes: 3,
    zookeeper: true,
    sessionTimeoutMs: 3000,
    brokerHeartbeatIntervalMs: 300,
    logLevel: process.env.DEBUG_LOG ?? 'silent',
  });
  client = new Kbroker({ brokers: cluster.brokers });
  await client
    .admin()
    .createTopics({ topics: [{ topic: 'orders', numPartitions: 2, replicationFactor: 3 }] });
});

afterAll(async () => {
  await client?.disconnect();
  await cluster?.stop();
});

function zkPort(nodeId: number): number {
  const a = zkAddressOf(cluster, nodeId);
  return Number(a.slice(a.lastIndexOf(':') + 1));
}

/** The ZooKeeper sessions the nodes' images hold, by node (they must agree). */
function sessionsSeen(): Map<number, string[]> {
  const out = new Map<number, string[]>();
  for (const n of cluster.nodes) {
    const image = n.node?.metadata.image;
    if (image !== undefined) out.set(n.nodeId, [...image.zkSessions.sessions()].map((s) => s.id).sort());
  }
  return out;
}

const hexId = (id: bigint) => BigInt.asUintN(64, id).toString(16).padStart(16, '0');

/** Open connections on a node's ZooKeeper listener, from its `srvr` four-letter word. */
function connections(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const s = connect(port, '127.0.0.1', () => s.write('srvr'));
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('error', reject);
    s.on('close', () => {
      const m = /Connections: (\d+)/.exec(Buffer.concat(chunks).toString());
      resolve(m === null ? -1 : Number(m[1]));
    });
  });
}

/** getData with a watch through the raw client; resolves with the stat's version. */
async function getDataWatch(c: RawClient, xid: number, path: string): Promise<number> {
  c.request(xid, OpCode.getData, (w) => writePathWatchRequest(w, { path, watch: true }));
  const { header, body } = await c.reply();
  expect(header.err).toBe(0);
  body.buffer();
  return readStat(body).version;
}

describe('cluster-wide ZooKeeper sessions', () => {
  it('a client moved to another broker keeps its session and its watches', async () => {
    const servers = cluster.nodes.map((n) => `127.0.0.1:${zkPort(n.nodeId)}`).join(',');
    const zk = zookeeper.createClient(servers, { sessionTimeout: 10_000, retries: 0 });
    const states: string[] = [];
    zk.on('state', (s: { name: string }) => states.push(s.name));
    await new Promise<void>((resolve) => {
      zk.once('connected', () => resolve());
      zk.connect();
    });
    const sessionId = zk.getSessionId().toString('hex');
    try {
      // The session is in every node's image, owned by the node the client reached.
      await waitFor(
        () => [...sessionsSeen().values()].every((ids) => ids.includes(sessionId)),
        'session replicated',
      );
      const owner = cluster.nodes[0]!.node!.metadata.image.zkSessions.get(sessionId)!.ownerId;
      expect(await connections(zkPort(owner))).toBe(1);

      // A data watch and a child watch, set before the move.
      const events: string[] = [];
      const watcher = (e: { getName(): string; getPath(): string }) =>
        events.push(`${e.getName()} ${e.getPath()}`);
      await new Promise<void>((resolve, reject) =>
        zk.getData('/config/topics/orders', watcher, (err) => (err ? reject(err) : resolve())),
      );
      await new Promise<void>((resolve, reject) =>
        zk.getChildren('/brokers/topics', watcher, (err) => (err ? reject(err) : resolve())),
      );

      // The broker serving the client goes away; the client reconnects to another with its session.
      await cluster.killNode(owner);
      await waitFor(
        () => states.filter((s) => s === 'SYNC_CONNECTED').length >= 2,
        'client reconnected',
        30_000,
      );
      expect(states).not.toContain('EXPIRED');
      expect(zk.getSessionId().toString('hex')).toBe(sessionId);
      const alive = cluster.nodes.find((n) => n.node !== undefined)!.node!;
      await waitFor(() => {
        const s = alive.metadata.image.zkSessions.get(sessionId);
        return s !== undefined && s.ownerId !== owner;
      }, 'session taken over by another broker');

      // Changes after the move fire the watches set before it (re-set with setWatches).
      await client.admin().alterConfigs({
        resources: [
          { type: 'topic', name: 'orders', configEntries: [{ name: 'retention.ms', value: '1000' }] },
        ],
      });
      await client.admin().createTopics({ topics: [{ topic: 'after-move', numPartitions: 1 }] });
      await waitFor(() => events.length === 2, 'both watches fired', 20_000);
      expect(events.sort()).toEqual([
        'NODE_CHILDREN_CHANGED /brokers/topics',
        'NODE_DATA_CHANGED /config/topics/orders',
      ]);
    } finally {
      zk.close();
      const dead = cluster.nodes.filter((n) => n.node === undefined);
      for (const n of dead) await cluster.restartNode(n.nodeId);
      await cluster.waitUntilReady();
    }
    // closeSession ends it on every node.
    await waitFor(
      () => [...sessionsSeen().values()].every((ids) => !ids.includes(sessionId)),
      'closed session gone everywhere',
    );
  });

  it('reattaching elsewhere moves the session; the old connection is closed on its next write; a wrong password is refused', async () => {
    const first = await RawClient.session(zkPort(1), { timeOut: 10_000 });
    const { sessionId, passwd } = first.response;
    expect(sessionId).not.toBe(0n);
    await getDataWatch(first.client, 1, '/brokers/topics/orders');

    const wrong = await RawClient.session(zkPort(2), {
      sessionId,
      passwd: new Uint8Array(16),
      timeOut: 10_000,
    });
    expect(wrong.response.sessionId).toBe(0n);
    expect(wrong.response.timeOut).toBe(0);
    await wrong.client.waitClosed();

    const moved = await RawClient.session(zkPort(2), { sessionId, passwd, timeOut: 12_000 });
    expect(moved.response.sessionId).toBe(sessionId);
    expect(moved.response.timeOut).toBe(12_000);
    expect(Buffer.from(moved.response.passwd)).toEqual(Buffer.from(passwd));
    // Every node learns the new owner (followers apply asynchronously: wait, do not race; the broker the
    // session left acts on the move once it has applied it).
    await waitFor(
      () =>
        cluster.nodes.every((n) => n.node?.metadata.image.zkSessions.get(hexId(sessionId))?.ownerId === 2),
      'every node sees broker 2 own the session',
    );
    // The broker it left still serves the old connection's reads, and closes it on a write (as a
    // ZooKeeper server whose session moved).
    expect(await getDataWatch(first.client, 2, '/brokers/topics/orders')).toBeGreaterThanOrEqual(0);
    first.client.request(3, OpCode.setData, (w) =>
      writeSetDataRequest(w, { path: '/config/topics/orders', data: Buffer.from('{}'), version: -1 }),
    );
    await first.client.waitClosed(10_000);

    // Closed on broker 2: gone everywhere, and broker 3 refuses it.
    moved.client.request(2, OpCode.closeSession);
    expect((await moved.client.reply()).header).toMatchObject({ xid: 2, err: ErrorCode.OK });
    await waitFor(
      () => [...sessionsSeen().values()].every((ids) => !ids.includes(hexId(sessionId))),
      'closed everywhere',
    );
    const late = await RawClient.session(zkPort(3), { sessionId, passwd, timeOut: 10_000 });
    expect(late.response.sessionId).toBe(0n);
    await late.client.waitClosed();
  });

  it('a silent session expires on every broker and cannot be resumed', async () => {
    // The shortest timeout the listeners negotiate (2 ticks of 2 s).
    const { client: c, response } = await RawClient.session(zkPort(1), { timeOut: 100 });
    expect(response.timeOut).toBe(4000);
    const id = hexId(response.sessionId);
    await waitFor(() => [...sessionsSeen().values()].every((ids) => ids.includes(id)), 'replicated');
    // No pings: the listener closes the connection and the controller ends the session.
    await c.waitClosed(15_000);
    await waitFor(
      () => [...sessionsSeen().values()].every((ids) => !ids.includes(id)),
      'expired everywhere',
      20_000,
    );
    const again = await RawClient.session(zkPort(2), {
      sessionId: response.sessionId,
      passwd: response.passwd,
      timeOut: 10_000,
    });
    expect(again.response.sessionId).toBe(0n);
  });

  it('a broker behind the zxid a client has seen does not serve it until it catches up', async () => {
    // A long timeout: the session must outlive the partition and broker 3's return.
    const fresh = await RawClient.session(zkPort(1), { timeOut: 30_000 });
    cluster.partitionNode(3);
    try {
      // A change broker 3 cannot see (a config: no partition leaders to wait for).
      await client.admin().alterConfigs({
        resources: [
          { type: 'topic', name: 'orders', configEntries: [{ name: 'retention.ms', value: '777' }] },
        ],
      });
      // The client reads on broker 1 and learns a zxid broker 3 has not reached.
      await getDataWatch(fresh.client, 1, '/config/topics/orders');
      fresh.client.request(2, OpCode.exists, (w) =>
        writePathWatchRequest(w, { path: '/cluster/id', watch: false }),
      );
      const seen = (await fresh.client.reply()).header.zxid;
      fresh.client.close();
      const behind = await RawClient.session(zkPort(3), {
        sessionId: fresh.response.sessionId,
        passwd: fresh.response.passwd,
        lastZxidSeen: seen,
        timeOut: 30_000,
      }).catch((err: Error) => err);
      // Refused by closing the connection, as a ZooKeeper server behind the client does.
      expect(behind).toBeInstanceOf(Error);
    } finally {
      cluster.heal(3);
    }
    await waitFor(
      () =>
        cluster
          .node(3)
          .node!.metadata.image.configs.get(ConfigResourceType.Topic, 'orders')
          ?.values.get('retention.ms') === '777',
      'node 3 caught up',
    );
    await cluster.waitUntilReady();
    // Like a ZooKeeper client, retry while the broker settles after rejoining (it may drop a connect
    // while it cannot reach the controller yet).
    let later: Awaited<ReturnType<typeof RawClient.session>> | undefined;
    await waitFor(async () => {
      later = await RawClient.session(zkPort(3), {
        sessionId: fresh.response.sessionId,
        passwd: fresh.response.passwd,
        timeOut: 30_000,
      }).catch(() => undefined);
      return later !== undefined;
    }, 'broker 3 serves the session');
    expect(later!.response.sessionId).toBe(fresh.response.sessionId);
    later!.client.close();
  });
});
