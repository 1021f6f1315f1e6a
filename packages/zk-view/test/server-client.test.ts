// The server through a real ZooKeeper client library (node-zookeeper-client, pure JS).
import { afterEach, describe, expect, it } from 'vitest';
import { InMemorySessionStore } from '../src/server/index.js';
import { kafkaTree } from './helpers/memory-tree.js';
import { eventually, sleep, startServer, stopServers } from './helpers/server.js';
import { long, type NzkException, nzk, watchOnce, within, ZkClient } from './helpers/zk-client.js';

const clients: ZkClient[] = [];
async function client(conn: string, opts: { sessionTimeout?: number } = {}): Promise<ZkClient> {
  const c = await ZkClient.connect(conn, opts);
  clients.push(c);
  return c;
}

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await stopServers();
});

async function zkError(p: Promise<unknown>): Promise<number> {
  try {
    await p;
  } catch (e) {
    return (e as NzkException).getCode();
  }
  throw new Error('expected a ZooKeeper error');
}

describe('reads through node-zookeeper-client', () => {
  it('getData returns data and the stat fields of the tree', async () => {
    const { port, tree } = await startServer();
    const c = await client(`127.0.0.1:${port}`);
    const { data, stat } = await c.getData('/brokers/ids/2');
    const expected = tree.current().get('/brokers/ids/2')!;
    expect(JSON.parse(data!.toString('utf8'))).toMatchObject({ version: 5, host: 'h2', port: 9092 });
    expect(long(stat.czxid)).toBe(expected.stat.czxid);
    expect(long(stat.mzxid)).toBe(expected.stat.mzxid);
    expect(long(stat.ephemeralOwner)).toBe(0x102n);
    expect(stat.dataLength).toBe(data!.length);
    expect(stat.version).toBe(0);
  });

  it('getData of a znode without data gives no data', async () => {
    const { port } = await startServer();
    const c = await client(`127.0.0.1:${port}`);
    const { data, stat } = await c.getData('/brokers/ids');
    expect(data === undefined || data === null || data.length === 0).toBe(true);
    expect(stat.numChildren).toBe(3);
  });

  it('getChildren lists names with the parent stat', async () => {
    const { port } = await startServer();
    const c = await client(`127.0.0.1:${port}`);
    const { children, stat } = await c.getChildren('/brokers/ids');
    expect([...children].sort()).toEqual(['1', '2', '3']);
    expect(stat.numChildren).toBe(3);
    expect(stat.cversion).toBe(3);
    const root = await c.getChildren('/');
    expect(root.children).toEqual(expect.arrayContaining(['brokers', 'cluster', 'controller', 'config']));
  });

  it('exists returns a stat, or null for a missing znode', async () => {
    const { port } = await startServer();
    const c = await client(`127.0.0.1:${port}`);
    expect((await c.exists('/controller'))?.dataLength).toBeGreaterThan(0);
    expect(await c.exists('/nope')).toBeNull();
  });

  it('answers NONODE for missing znodes and keeps the session', async () => {
    const { port } = await startServer();
    const c = await client(`127.0.0.1:${port}`);
    expect(await zkError(c.getData('/brokers/ids/9'))).toBe(nzk.Exception.NO_NODE);
    expect(await zkError(c.getChildren('/missing/path'))).toBe(nzk.Exception.NO_NODE);
    expect((await c.getChildren('/brokers')).children.sort()).toEqual(['ids', 'seqid', 'topics']);
  });

  it('getACL reports the open ACL Kafka writes by default', async () => {
    const { port } = await startServer();
    const c = await client(`127.0.0.1:${port}`);
    const acls = await c.getACL('/brokers');
    expect(acls).toHaveLength(1);
    expect(acls[0]!.permission).toBe(31);
    expect(acls[0]!.id).toMatchObject({ scheme: 'world', id: 'anyone' });
  });

  it('negotiates the session timeout into [2, 20] ticks', async () => {
    const { port } = await startServer({ tickTimeMs: 100 });
    const low = await client(`127.0.0.1:${port}`, { sessionTimeout: 50 });
    expect(low.raw.getSessionTimeout()).toBe(200);
    const high = await client(`127.0.0.1:${port}`, { sessionTimeout: 60_000 });
    expect(high.raw.getSessionTimeout()).toBe(2000);
    const mid = await client(`127.0.0.1:${port}`, { sessionTimeout: 1000 });
    expect(mid.raw.getSessionTimeout()).toBe(1000);
    expect(low.raw.getSessionId().equals(high.raw.getSessionId())).toBe(false);
  });
});

describe('writes', () => {
  it('without a write handler, writes get UNIMPLEMENTED and the session goes on', async () => {
    const { port } = await startServer();
    const c = await client(`127.0.0.1:${port}`);
    expect(await zkError(c.create('/brokers/ids/7', Buffer.from('x')))).toBe(nzk.Exception.UNIMPLEMENTED);
    expect(await zkError(c.setData('/controller_epoch', Buffer.from('4')))).toBe(-6);
    const tx = c.raw.transaction();
    tx.check('/controller_epoch', 0);
    tx.setData('/controller_epoch', Buffer.from('5'), 0);
    const txErr = await new Promise<NzkException | null>((resolve) => tx.commit((e) => resolve(e)));
    expect(txErr?.getCode()).toBe(-6);
    expect((await c.getData('/controller_epoch')).data!.toString()).toBe('3');
  });

  it('routes writes to the write handler and answers once the tree shows them', async () => {
    const tree = kafkaTree();
    const seen: string[] = [];
    const { port } = await startServer({
      tree,
      writeHandler: {
        async write(ops) {
          seen.push(ops.map((o) => `${o.op} ${o.path}`).join(','));
          const op = ops[0]!;
          if (op.op === 'setData' && op.version !== -1 && op.version !== 0) {
            return { ok: false, error: -103, reason: 'bad version' };
          }
          // Applied asynchronously, the way a controller commit reaches the tree later.
          const target = tree.current().zxid + 1n;
          setTimeout(() => {
            if (op.op === 'create') tree.create(op.path, op.data);
            if (op.op === 'setData') tree.setData(op.path, op.data);
          }, 30);
          return { ok: true, zxid: target };
        },
      },
    });
    const c = await client(`127.0.0.1:${port}`);
    expect(await c.create('/config/topics/t1', Buffer.from('{}'))).toBe('/config/topics/t1');
    // Read-your-writes: the reply waited for the tree.
    expect((await c.getData('/config/topics/t1')).data!.toString()).toBe('{}');
    const stat = await c.setData('/controller_epoch', Buffer.from('4'), 0);
    expect(stat.version).toBe(1);
    expect(await zkError(c.setData('/controller_epoch', Buffer.from('5'), 7))).toBe(
      nzk.Exception.BAD_VERSION,
    );
    expect(seen).toEqual([
      'create /config/topics/t1',
      'setData /controller_epoch',
      'setData /controller_epoch',
    ]);
  });
});

describe('watches', () => {
  it('a child watch on /brokers/ids fires when a broker disappears and again when it reappears', async () => {
    const { port, tree } = await startServer();
    const c = await client(`127.0.0.1:${port}`);
    const w1 = watchOnce();
    expect((await c.getChildren('/brokers/ids', w1.watcher)).children.sort()).toEqual(['1', '2', '3']);
    tree.delete('/brokers/ids/2');
    const e1 = await within(w1.fired, 5000, 'child watch on delete');
    expect(e1.getName()).toBe('NODE_CHILDREN_CHANGED');
    expect(e1.getPath()).toBe('/brokers/ids');
    const w2 = watchOnce();
    expect((await c.getChildren('/brokers/ids', w2.watcher)).children.sort()).toEqual(['1', '3']);
    tree.create('/brokers/ids/2', '{"version":5}', { ephemeralOwner: 0x999n });
    const e2 = await within(w2.fired, 5000, 'child watch on create');
    expect(e2.getName()).toBe('NODE_CHILDREN_CHANGED');
    const after = await c.getData('/brokers/ids/2');
    expect(long(after.stat.ephemeralOwner)).toBe(0x999n);
  });

  it('data watches fire on change and deletion; exists watches on creation', async () => {
    const { port, tree } = await startServer();
    const c = await client(`127.0.0.1:${port}`);
    const data = watchOnce();
    await c.getData('/controller', data.watcher);
    const created = watchOnce();
    expect(await c.exists('/admin/reassign_partitions', created.watcher)).toBeNull();
    tree.setData('/controller', '{"version":2,"brokerid":2}');
    expect((await within(data.fired, 5000, 'data watch')).getName()).toBe('NODE_DATA_CHANGED');
    tree.create('/admin/reassign_partitions', '{"version":1,"partitions":[]}');
    expect((await within(created.fired, 5000, 'exists watch')).getName()).toBe('NODE_CREATED');
    const deleted = watchOnce();
    await c.getData('/admin/reassign_partitions', deleted.watcher);
    tree.delete('/admin/reassign_partitions');
    expect((await within(deleted.fired, 5000, 'delete watch')).getName()).toBe('NODE_DELETED');
  });

  it('one-shot: a watch fires once, then is gone', async () => {
    const { port, tree, server } = await startServer();
    const c = await client(`127.0.0.1:${port}`);
    let fired = 0;
    await c.getData('/controller_epoch', () => fired++);
    expect(server.watchCount).toBe(1);
    tree.setData('/controller_epoch', '4');
    await eventually(() => fired === 1, 5000, 'first event');
    tree.setData('/controller_epoch', '5');
    await sleep(100);
    expect(fired).toBe(1);
    expect(server.watchCount).toBe(0);
  });

  it('the watch event arrives before the reply to a read issued after the change', async () => {
    const { port, tree } = await startServer();
    const c = await client(`127.0.0.1:${port}`);
    const order: string[] = [];
    await c.getData('/controller', () => order.push('event'));
    tree.setData('/controller', '{"version":2,"brokerid":3}');
    const { data } = await c.getData('/controller');
    order.push(`read ${JSON.parse(data!.toString()).brokerid}`);
    expect(order).toEqual(['event', 'read 3']);
  });
});

describe('sessions', () => {
  it('a client that reconnects to another server keeps its session, and setWatches fires for changes missed', async () => {
    const tree = kafkaTree();
    const sessions = new InMemorySessionStore();
    const a = await startServer({ tree, sessions });
    const b = await startServer({ tree, sessions });
    const c = await client(`127.0.0.1:${a.port},127.0.0.1:${b.port}`, { sessionTimeout: 10_000 });
    const sessionId = c.raw.getSessionId().toString('hex');
    const childWatch = watchOnce();
    await c.getChildren('/brokers/ids', childWatch.watcher);
    const dataWatch = watchOnce();
    await c.getData('/controller', dataWatch.watcher);
    const quiet = watchOnce();
    await c.getData('/cluster/id', quiet.watcher);
    // Stop whichever server holds the connection; the tree changes while the client is away.
    const holder = a.server.connectionCount > 0 ? a : b;
    const other = holder === a ? b : a;
    const disconnected = c.next('disconnected');
    const reconnected = c.next('connected');
    await holder.server.close();
    await disconnected;
    // The tree changes while the client is away. Both servers share the tree; `other` fires watches
    // only for connections it holds, so the client learns of these through setWatches.
    tree.delete('/brokers/ids/3');
    tree.setData('/controller', '{"version":2,"brokerid":2}');
    await reconnected;
    expect(c.raw.getSessionId().toString('hex')).toBe(sessionId);
    expect(other.server.connectionCount).toBe(1);
    expect((await within(childWatch.fired, 5000, 'child watch via setWatches')).getName()).toBe(
      'NODE_CHILDREN_CHANGED',
    );
    expect((await within(dataWatch.fired, 5000, 'data watch via setWatches')).getName()).toBe(
      'NODE_DATA_CHANGED',
    );
    // The unchanged znode's watch was re-registered, not fired, and still works.
    let quietFired = false;
    void quiet.fired.then(() => {
      quietFired = true;
    });
    await sleep(50);
    expect(quietFired).toBe(false);
    tree.setData('/cluster/id', '{"version":"1","id":"x"}');
    expect((await within(quiet.fired, 5000, 're-registered watch')).getName()).toBe('NODE_DATA_CHANGED');
    sessions.dispose();
  });

  it('a session that expires while its client is away is refused on reconnect (client sees expired)', async () => {
    const sessions = new InMemorySessionStore({ checkIntervalMs: 20 });
    const a = await startServer({ tickTimeMs: 100, sessions });
    const c = await client(`127.0.0.1:${a.port}`, { sessionTimeout: 400 });
    expect(c.raw.getSessionTimeout()).toBe(400);
    expect(sessions.size).toBe(1);
    const disconnected = c.next('disconnected');
    await a.server.close();
    await disconnected;
    await eventually(() => sessions.size === 0, 5000, 'session expiry');
    const expired = c.next('expired');
    // Another server comes up where the client is looking; the session is gone cluster-wide.
    await startServer({ tickTimeMs: 100, sessions, port: a.port });
    await expired;
    sessions.dispose();
  });
});

describe('chroot', () => {
  it('serves the tree under /kafka, with the client applying the same chroot', async () => {
    const { port, tree } = await startServer({ chroot: '/kafka' });
    const plain = await client(`127.0.0.1:${port}`);
    // ZooKeeper's own /zookeeper stays at the root, beside the chroot (as a real ZooKeeper holds it).
    expect((await plain.getChildren('/')).children.sort()).toEqual(['kafka', 'zookeeper']);
    expect((await plain.getChildren('/kafka')).children).not.toContain('zookeeper');
    expect((await plain.getChildren('/kafka/brokers/ids')).children.sort()).toEqual(['1', '2', '3']);
    expect(await plain.exists('/brokers')).toBeNull();
    const chrooted = await client(`127.0.0.1:${port}/kafka`);
    expect((await chrooted.getChildren('/brokers/ids')).children.sort()).toEqual(['1', '2', '3']);
    expect((await chrooted.getData('/controller_epoch')).data!.toString()).toBe('3');
    const w = watchOnce();
    await chrooted.getChildren('/brokers/ids', w.watcher);
    const wPlain = watchOnce();
    await plain.getChildren('/kafka/brokers/ids', wPlain.watcher);
    tree.delete('/brokers/ids/1');
    const e = await within(w.fired, 5000, 'chrooted watch');
    expect(e.getPath()).toBe('/brokers/ids');
    expect((await within(wPlain.fired, 5000, 'plain watch')).getPath()).toBe('/kafka/brokers/ids');
  });
});
