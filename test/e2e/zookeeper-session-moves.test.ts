/**
 * Session moves, differentially: the same sequence of ZooKeeper requests, through the same client
 * code, against a real ZooKeeper 3.8 ensemble (three servers) and a three-broker kbroker cluster, and
 * the two transcripts must be equal. The sequence moves a session between servers while it holds
 * watches, uses the connection it left behind, makes Kafka's admin writes, and ends the session.
 *
 * What ZooKeeper does here, and kbroker therefore does too: the server a session left keeps serving
 * the old connection's reads and watch events, and closes it unanswered on a write; closeSession from
 * any connection ends the session everywhere; a wrong password or an ended session gets a connect
 * response with session id 0 and timeout 0, then the connection closes.
 */
import { type InProcessCluster, startCluster } from '@kbroker/broker';
import { Kbroker } from '@kbroker/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  startZooKeeper,
  type ZooKeeperDeployment,
} from '../../packages/zk-view/src/bench/zookeeper-server.js';
import { OpCode, Xid } from '../../packages/zk-view/src/jute/constants.js';
import { JuteReader } from '../../packages/zk-view/src/jute/reader.js';
import {
  readChildren,
  readReplyHeader,
  readStat,
  readWatcherEvent,
  writeCreateRequest,
  writePathWatchRequest,
  writeSetDataRequest,
  writeSetWatches,
} from '../../packages/zk-view/src/jute/records.js';
import { RawClient } from '../../packages/zk-view/test/helpers/raw-client.js';

const OPEN_ACL = [{ perms: 31, id: { scheme: 'world', id: 'anyone' } }];
const TOPIC_CONFIG = { version: 1, config: { 'cleanup.policy': 'delete' } };
const ALTERED_CONFIG = { version: 1, config: { 'cleanup.policy': 'delete', 'retention.ms': '1000' } };

let zk: ZooKeeperDeployment;
let cluster: InProcessCluster;

/** Three servers' client ports, as the sequence addresses them. */
interface Target {
  readonly ports: readonly [number, number, number];
}

const portOf = (hostPort: string) => Number(hostPort.slice(hostPort.lastIndexOf(':') + 1));

async function reply(c: RawClient): Promise<{ err: number; zxid: bigint; body: JuteReader } | 'closed'> {
  try {
    const { header, body } = await c.reply(10_000);
    return { err: header.err, zxid: header.zxid, body };
  } catch (err) {
    if (c.closed) return 'closed';
    throw err;
  }
}

/** The next watch event on a connection, as `type path`, or `closed`. */
async function nextEvent(c: RawClient): Promise<string> {
  try {
    const r = new JuteReader(await c.next(10_000));
    const h = readReplyHeader(r);
    if (h.xid !== Xid.notification) return `unexpected reply xid ${h.xid}`;
    const e = readWatcherEvent(r);
    return `event ${e.type} ${e.path}`;
  } catch (err) {
    if (c.closed) return 'closed';
    throw err;
  }
}

/** Runs the sequence against one system; returns its transcript (values that must be equal). */
async function sequence(t: Target): Promise<string[]> {
  const out: string[] = [];
  const [s1, s2, s3] = t.ports;
  const w = await RawClient.session(s3, { timeOut: 10_000 });
  const c1 = await RawClient.session(s1, { timeOut: 10_000 });
  out.push(`c1 connected timeout=${c1.response.timeOut}`);

  c1.client.request(1, OpCode.getData, (x) =>
    writePathWatchRequest(x, { path: '/config/topics/orders', watch: true }),
  );
  const data = await reply(c1.client);
  if (data === 'closed') throw new Error('c1 closed');
  out.push(
    `c1 getData err=${data.err} data=${JSON.stringify(JSON.parse(Buffer.from(data.body.buffer()!).toString()))}`,
  );
  out.push(`c1 stat version=${readStat(data.body).version}`);
  c1.client.request(2, OpCode.getChildren, (x) =>
    writePathWatchRequest(x, { path: '/brokers/topics', watch: true }),
  );
  const children = await reply(c1.client);
  if (children === 'closed') throw new Error('c1 closed');
  out.push(`c1 getChildren err=${children.err} children=${readChildren(children.body).sort().join(',')}`);

  // The client moves to server 2 with its session, and re-sets its watches there.
  const c2 = await RawClient.session(s2, {
    sessionId: c1.response.sessionId,
    passwd: c1.response.passwd,
    lastZxidSeen: children.zxid,
    timeOut: 12_000,
  });
  out.push(
    `c2 connected same-session=${c2.response.sessionId === c1.response.sessionId} timeout=${c2.response.timeOut} same-password=${Buffer.from(c2.response.passwd).equals(Buffer.from(c1.response.passwd))}`,
  );
  c2.client.request(Xid.setWatches, OpCode.setWatches, (x) =>
    writeSetWatches(
      x,
      {
        relativeZxid: children.zxid,
        dataWatches: ['/config/topics/orders'],
        existWatches: [],
        childWatches: ['/brokers/topics'],
        persistentWatches: [],
        persistentRecursiveWatches: [],
      },
      false,
    ),
  );
  const set = await reply(c2.client);
  out.push(`c2 setWatches ${set === 'closed' ? 'closed' : `err=${set.err}`}`);

  // The connection left behind still serves reads.
  c1.client.request(3, OpCode.exists, (x) => writePathWatchRequest(x, { path: '/cluster/id', watch: false }));
  const old = await reply(c1.client);
  out.push(`c1 exists after move ${old === 'closed' ? 'closed' : `err=${old.err}`}`);

  // Kafka's config change (kafka-configs.sh in ZooKeeper days): both connections' watches fire.
  w.client.request(1, OpCode.setData, (x) =>
    writeSetDataRequest(x, {
      path: '/config/topics/orders',
      data: Buffer.from(JSON.stringify(ALTERED_CONFIG)),
      version: -1,
    }),
  );
  const altered = await reply(w.client);
  out.push(`w setData ${altered === 'closed' ? 'closed' : `err=${altered.err}`}`);
  out.push(`c2 ${await nextEvent(c2.client)}`);
  out.push(`c1 ${await nextEvent(c1.client)}`);

  // A write on the connection left behind closes it unanswered.
  c1.client.request(4, OpCode.setData, (x) =>
    writeSetDataRequest(x, {
      path: '/config/topics/orders',
      data: Buffer.from(JSON.stringify(TOPIC_CONFIG)),
      version: -1,
    }),
  );
  const stale = await reply(c1.client);
  out.push(`c1 setData after move ${stale === 'closed' ? 'closed' : `err=${stale.err}`}`);

  // Kafka's topic creation (kafka-topics.sh --zookeeper): the moved session's child watch fires.
  w.client.request(2, OpCode.create, (x) =>
    writeCreateRequest(x, {
      path: '/brokers/topics/moved',
      data: Buffer.from(JSON.stringify({ version: 1, partitions: { 0: [1, 2, 3] } })),
      acl: OPEN_ACL,
      flags: 0,
    }),
  );
  const created = await reply(w.client);
  out.push(`w create ${created === 'closed' ? 'closed' : `err=${created.err}`}`);
  out.push(`c2 ${await nextEvent(c2.client)}`);

  // A wrong password is refused with session id 0 and timeout 0, then the connection closes.
  const wrong = await RawClient.session(s3, {
    sessionId: c1.response.sessionId,
    passwd: new Uint8Array(16),
    timeOut: 10_000,
  });
  out.push(`wrong password session=${wrong.response.sessionId} timeout=${wrong.response.timeOut}`);
  await wrong.client.waitClosed(10_000);
  out.push('wrong password closed');

  // closeSession ends it; it cannot be resumed anywhere.
  c2.client.request(5, OpCode.closeSession);
  const closed = await reply(c2.client);
  out.push(`c2 closeSession ${closed === 'closed' ? 'closed' : `err=${closed.err}`}`);
  await c2.client.waitClosed(10_000);
  out.push('c2 closed');
  // Refused: ZooKeeper answers session id 0 and timeout 0, or (a follower revalidating with its leader)
  // sometimes just closes the connection; both mean the same to a client, so both read `refused`.
  const late = await RawClient.session(s1, {
    sessionId: c1.response.sessionId,
    passwd: c1.response.passwd,
    timeOut: 10_000,
  }).catch((err: Error) => err);
  const refused =
    late instanceof Error ? late.message === 'connection closed' : late.response.sessionId === 0n;
  out.push(`resume after close ${refused ? 'refused' : 'accepted'}`);
  for (const c of [w.client, c1.client]) c.close();
  if (!(late instanceof Error)) late.client.close();
  return out;
}

/** In the real ZooKeeper: the znodes the sequence reads, as Kafka would have written them. */
async function seedZooKeeper(port: number): Promise<void> {
  const c = await RawClient.session(port);
  let xid = 1;
  for (const [path, data] of [
    ['/brokers', null],
    ['/brokers/topics', null],
    ['/brokers/topics/orders', { version: 3, partitions: { 0: [1, 2, 3] }, topic_id: 'x' }],
    ['/config', null],
    ['/config/topics', null],
    // Kafka created a topic's config znode empty; the config came later (version 1, as in kbroker).
    ['/config/topics/orders', { version: 1, config: {} }],
    ['/cluster', null],
    ['/cluster/id', { version: '1', id: 'x' }],
  ] as const) {
    c.client.request(xid++, OpCode.create, (x) =>
      writeCreateRequest(x, {
        path,
        data: data === null ? null : Buffer.from(JSON.stringify(data)),
        acl: OPEN_ACL,
        flags: 0,
      }),
    );
    const r = await reply(c.client);
    if (r === 'closed' || r.err !== 0) throw new Error(`cannot create ${path}`);
  }
  c.client.request(xid++, OpCode.setData, (x) =>
    writeSetDataRequest(x, {
      path: '/config/topics/orders',
      data: Buffer.from(JSON.stringify(TOPIC_CONFIG)),
      version: 0,
    }),
  );
  const r = await reply(c.client);
  if (r === 'closed' || r.err !== 0) throw new Error('cannot set the topic config');
  c.client.close();
}

beforeAll(async () => {
  [zk, cluster] = await Promise.all([
    startZooKeeper(3),
    startCluster({ nodes: 3, zookeeper: true, sessionTimeoutMs: 3000, brokerHeartbeatIntervalMs: 300 }),
  ]);
  await seedZooKeeper(portOf(zk.servers[0]!));
  const client = new Kbroker({ brokers: cluster.brokers });
  try {
    await client
      .admin()
      .createTopics({ topics: [{ topic: 'orders', numPartitions: 1, replicationFactor: 3 }] });
    await client.admin().alterConfigs({
      resources: [
        { type: 'topic', name: 'orders', configEntries: [{ name: 'cleanup.policy', value: 'delete' }] },
      ],
    });
  } finally {
    await client.disconnect();
  }
}, 120_000);

afterAll(async () => {
  await Promise.all([zk?.stop(), cluster?.stop()]);
});

describe('session moves, kbroker against a ZooKeeper 3.8 ensemble', () => {
  it('the same sequence gives the same transcript', async () => {
    const real = await sequence({ ports: zk.servers.map(portOf) as unknown as Target['ports'] });
    const ours = await sequence({
      ports: cluster.nodes.map((n) => portOf(n.node!.zookeeperAddress()!)) as unknown as Target['ports'],
    });
    // The sequence exercised what it claims to (so equal transcripts are not both empty or broken).
    expect(real).toContain('c1 setData after move closed');
    expect(real).toContain('c2 event 3 /config/topics/orders');
    expect(ours).toEqual(real);
  });
});
